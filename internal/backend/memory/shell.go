package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	utilexec "k8s.io/utils/exec"

	"github.com/vnode-io/vnode/internal/backend"
)

// shellEnv is what a command can see of its container.
type shellEnv struct {
	vars     []backend.EnvVar
	hostname string
}

// runShell interprets argv as a simulated container would run it, for
// tests of exec:
//
//	echo ARGS...     ARGS on stdout
//	echoerr ARGS...  ARGS on stderr
//	cat              stdin copied to stdout
//	env              the container's environment, NAME=VALUE per line
//	hostname         the pod's name
//	true, false      exit 0 and 1
//	exit N           exit N
//	sh -c 'A; B'     the commands in order, stopping at a non-zero exit
//
// Any other command exits 127 with "command not found" on stderr. A
// non-zero exit returns a k8s.io/utils/exec.CodeExitError.
func runShell(ctx context.Context, argv []string, env shellEnv, s backend.Streams) error {
	if len(argv) == 0 {
		return errors.New("no command given")
	}
	if len(argv) == 3 && argv[0] == "sh" && argv[1] == "-c" {
		for _, part := range strings.Split(argv[2], ";") {
			if fields := strings.Fields(part); len(fields) > 0 {
				if err := runCommand(ctx, fields, env, s); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return runCommand(ctx, argv, env, s)
}

func runCommand(ctx context.Context, argv []string, env shellEnv, s backend.Streams) error {
	stdout, stderr := outputs(s)
	var err error
	switch argv[0] {
	case "echo":
		_, err = fmt.Fprintln(stdout, strings.Join(argv[1:], " "))
	case "echoerr":
		_, err = fmt.Fprintln(stderr, strings.Join(argv[1:], " "))
	case "cat":
		if s.Stdin != nil {
			err = copyUntilDone(ctx, stdout, s.Stdin)
		}
	case "env":
		for _, v := range env.vars {
			if _, err = fmt.Fprintf(stdout, "%s=%s\n", v.Name, v.Value); err != nil {
				break
			}
		}
	case "hostname":
		_, err = fmt.Fprintln(stdout, env.hostname)
	case "true":
	case "false":
		return exitError(1)
	case "exit":
		code := 0
		if len(argv) > 1 {
			if code, err = strconv.Atoi(argv[1]); err != nil || code < 0 || code > 255 {
				_, _ = fmt.Fprintf(stderr, "exit: illegal number: %s\n", argv[1])
				return exitError(2)
			}
		}
		if code != 0 {
			return exitError(code)
		}
	default:
		_, _ = fmt.Fprintf(stderr, "%s: command not found\n", argv[0])
		return exitError(127)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return nil
}

// outputs returns where a command writes: stderr goes to stdout on a
// terminal, and streams not requested are discarded.
func outputs(s backend.Streams) (stdout, stderr io.Writer) {
	stdout, stderr = io.Discard, io.Discard
	if s.Stdout != nil {
		stdout = s.Stdout
	}
	switch {
	case s.Stderr != nil:
		stderr = s.Stderr
	case s.TTY:
		stderr = stdout
	}
	return stdout, stderr
}

// copyUntilDone copies src to dst until src ends or ctx ends.
func copyUntilDone(ctx context.Context, dst io.Writer, src io.Reader) error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(dst, src)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func exitError(code int) error {
	return utilexec.CodeExitError{Err: fmt.Errorf("exit status %d", code), Code: code}
}
