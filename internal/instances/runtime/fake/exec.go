package fake

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

const (
	// exitKilled is the exit code of an exec whose container stopped.
	exitKilled = 137
	// exitNotFound is the exit code of an unknown command.
	exitNotFound = 127
)

// Exec runs cmd in a running container and returns its exit code. It
// understands echo, exit, cat (standard input to standard output), env
// (the container's variables, sorted), sleep, sh -c "<command>" and sh
// alone, which runs one command per line of standard input. Any other
// command exits with 127. An exec ends with 137 if the container stops.
func (r *Runtime) Exec(ctx context.Context, id, container string, cmd []string, s runtime.Streams) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("fake: exec in %s/%s: %w", id, container, err)
	}
	if len(cmd) == 0 {
		return -1, fmt.Errorf("fake: exec in %s/%s: empty command", id, container)
	}
	r.mu.Lock()
	_, c, err := r.runningContainer(id, container)
	var x *session
	if err == nil {
		x = newSession(ctx, r.clock, c, s)
	}
	r.mu.Unlock()
	if err != nil {
		return -1, err
	}
	defer drainResize(s.Resize)()
	code, err := x.run(cmd)
	if err != nil {
		return code, fmt.Errorf("fake: exec %q in %s/%s: %w", strings.Join(cmd, " "), id, container, err)
	}
	return code, nil
}

// Attach echoes s.Stdin to s.Stdout until Stdin ends, ctx ends or the
// container's process ends.
func (r *Runtime) Attach(ctx context.Context, id, container string, s runtime.Streams) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake: attach to %s/%s: %w", id, container, err)
	}
	r.mu.Lock()
	_, c, err := r.runningContainer(id, container)
	var proc <-chan struct{}
	if err == nil {
		proc = c.proc
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	defer drainResize(s.Resize)()
	if _, err := pump(ctx, proc, orDiscard(s.Stdout), s.Stdin); err != nil {
		return fmt.Errorf("fake: attach to %s/%s: %w", id, container, err)
	}
	return nil
}

// session is one exec in a container.
type session struct {
	ctx   context.Context
	clock clock.WithTicker
	// proc is closed when the container's process ends.
	proc   <-chan struct{}
	env    []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	tty    bool
}

// newSession returns a session in c, which must be running.
func newSession(ctx context.Context, clk clock.WithTicker, c *container, s runtime.Streams) *session {
	x := &session{ctx: ctx, clock: clk, proc: c.proc, env: envLines(c.spec.Env),
		stdin: s.Stdin, stdout: orDiscard(s.Stdout), stderr: s.Stderr, tty: s.TTY}
	if x.stderr == nil {
		x.stderr = x.stdout
	}
	return x
}

// run runs one command.
func (x *session) run(argv []string) (int, error) {
	argv = normalize(argv)
	if len(argv) == 0 {
		return 0, nil
	}
	switch commandName(argv) {
	case "echo":
		return x.print(x.stdout, joinArgs(argv[1:])+"\n", 0)
	case "exit":
		return int(exitCode(argv[1:])), nil
	case "cat":
		return x.cat()
	case "env":
		return x.print(x.stdout, joinLines(x.env), 0)
	case "sleep":
		return x.sleep(argv[1:])
	case "sh", "bash":
		if len(argv) == 1 {
			return x.shell()
		}
	}
	return x.print(x.stderr, fmt.Sprintf("fake: %s: command not found\n", argv[0]), exitNotFound)
}

// print writes text to w and returns code.
func (x *session) print(w io.Writer, text string, code int) (int, error) {
	if _, err := io.WriteString(w, text); err != nil {
		return -1, fmt.Errorf("write output: %w", err)
	}
	return code, nil
}

// cat copies standard input to standard output.
func (x *session) cat() (int, error) {
	if x.stdin == nil {
		return 0, nil
	}
	ended, err := pump(x.ctx, x.proc, x.stdout, x.stdin)
	switch {
	case ended:
		return exitKilled, nil
	case err != nil:
		return -1, err
	}
	return 0, nil
}

// sleep waits for a duration on the clock.
func (x *session) sleep(args []string) (int, error) {
	d, err := sleepDuration(args)
	if err != nil {
		return x.print(x.stderr, err.Error()+"\n", 1)
	}
	if d == 0 {
		return 0, nil
	}
	var elapsed <-chan time.Time
	if d > 0 {
		t := x.clock.NewTimer(d)
		defer t.Stop()
		elapsed = t.C()
	}
	select {
	case <-elapsed:
		return 0, nil
	case <-x.ctx.Done():
		return -1, x.ctx.Err()
	case <-x.proc:
		return exitKilled, nil
	}
}

// shell runs each line of standard input as a command until the input
// ends or a line is exit; it returns the last command's exit code. With a
// terminal it prompts "# ". The commands get no standard input.
func (x *session) shell() (int, error) {
	if x.stdin == nil {
		return 0, nil
	}
	lines := make(chan string)
	readErr := make(chan error, 1)
	quit := make(chan struct{})
	defer close(quit)
	go readLines(x.stdin, lines, readErr, quit)
	sub := *x
	sub.stdin = nil
	code := 0
	for {
		if x.tty {
			if _, err := io.WriteString(x.stdout, "# "); err != nil {
				return -1, fmt.Errorf("write prompt: %w", err)
			}
		}
		select {
		case line := <-lines:
			argv := splitShell(line)
			if len(argv) > 0 && argv[0] == "exit" {
				return int(exitCode(argv[1:])), nil
			}
			var err error
			if code, err = sub.run(argv); err != nil {
				return code, err
			}
		case err := <-readErr:
			return code, err
		case <-x.ctx.Done():
			return -1, x.ctx.Err()
		case <-x.proc:
			return exitKilled, nil
		}
	}
}

// readLines sends each line of r (ended by CR or LF) to lines, then r's
// error (nil at EOF) to done, unless quit is closed first.
func readLines(r io.Reader, lines chan<- string, done chan<- error, quit <-chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Split(scanLines)
	for sc.Scan() {
		select {
		case lines <- sc.Text():
		case <-quit:
			return
		}
	}
	done <- sc.Err()
}

// scanLines is bufio.ScanLines that also ends lines at a CR, which is what
// a terminal sends for Enter.
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// pump copies src to dst until src ends (err nil), ctx ends (its error)
// or proc is closed (ended). dst is not written once pump has returned.
func pump(ctx context.Context, proc <-chan struct{}, dst io.Writer, src io.Reader) (ended bool, err error) {
	gw := &gatedWriter{w: dst}
	defer gw.close()
	copied := make(chan error, 1)
	if src != nil {
		go func() {
			_, err := io.Copy(gw, src)
			copied <- err
		}()
	}
	select {
	case err := <-copied:
		return false, err
	case <-ctx.Done():
		return false, ctx.Err()
	case <-proc:
		return true, nil
	}
}

// gatedWriter passes writes to w until closed.
type gatedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, io.ErrClosedPipe
	}
	return g.w.Write(p)
}

func (g *gatedWriter) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// drainResize discards terminal size changes, so that their sender never
// blocks, until the returned function is called.
func drainResize(ch <-chan runtime.TerminalSize) (stop func()) {
	if ch == nil {
		return func() {}
	}
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-quit:
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
			}
		}
	}()
	return func() { close(quit) }
}

// orDiscard returns w, or io.Discard for nil.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// envLines returns NAME=VALUE for each variable, the last of a name
// winning, sorted.
func envLines(env []runtime.EnvVar) []string {
	values := make(map[string]string, len(env))
	for _, e := range env {
		values[e.Name] = e.Value
	}
	lines := make([]string, 0, len(values))
	for _, name := range slices.Sorted(maps.Keys(values)) {
		lines = append(lines, name+"="+values[name])
	}
	return lines
}

// joinLines returns the lines, each ended by a newline.
func joinLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// joinArgs joins arguments as echo prints them.
func joinArgs(args []string) string {
	return strings.Join(args, " ")
}

// normalize replaces sh -c "<command>" (any depth) by the command's words.
func normalize(argv []string) []string {
	for len(argv) >= 3 && isShell(argv[0]) && argv[1] == "-c" {
		argv = splitShell(argv[2])
	}
	return argv
}

// isShell reports whether name is a shell's.
func isShell(name string) bool {
	switch path.Base(name) {
	case "sh", "bash", "ash", "dash":
		return true
	}
	return false
}

// commandName is the base name of argv's program: /bin/echo is echo.
func commandName(argv []string) string {
	return path.Base(argv[0])
}

// exitCode is the status exit's arguments give, as a shell computes it:
// modulo 256, 0 without an argument, 2 for a bad number.
func exitCode(args []string) int32 {
	if len(args) == 0 {
		return 0
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return 2
	}
	return int32(uint8(n))
}

// sleepDuration parses sleep's argument: seconds (possibly fractional), a
// Go duration, or infinity, returned as -1.
func sleepDuration(args []string) (time.Duration, error) {
	if len(args) == 0 {
		return 0, errors.New("sleep: missing operand")
	}
	a := args[0]
	if a == "infinity" {
		return -1, nil
	}
	if secs, err := strconv.ParseFloat(a, 64); err == nil && secs >= 0 && secs < math.MaxInt64/float64(time.Second) {
		return time.Duration(secs * float64(time.Second)), nil
	}
	if d, err := time.ParseDuration(a); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("sleep: invalid time interval %q", a)
}

// splitShell splits a command line into words as a POSIX shell does with
// quotes and backslashes, without expansions or operators.
func splitShell(s string) []string {
	var (
		words  []string
		word   strings.Builder
		inWord bool
		quote  rune
	)
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		ch := runes[i]
		switch {
		case quote == '\'' && ch == '\'', quote == '"' && ch == '"':
			quote = 0
		case quote == '\'':
			word.WriteRune(ch)
		case ch == '\\' && i+1 < len(runes) && (quote == 0 || strings.ContainsRune("\"\\$`", runes[i+1])):
			i++
			word.WriteRune(runes[i])
			inWord = true
		case quote == '"':
			word.WriteRune(ch)
		case ch == '\'' || ch == '"':
			quote, inWord = ch, true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}
