package images

import (
	"embed"
	"fmt"
)

// sources holds the programs compiled into the images.
//
//go:embed src/pause/main.go src/hello/main.go
var sources embed.FS

// Names of the programs built from the embedded sources.
const (
	pauseProgram = "pause"
	helloProgram = "hello"
)

// source returns the main.go of the named program.
func source(program string) ([]byte, error) {
	b, err := sources.ReadFile("src/" + program + "/main.go")
	if err != nil {
		return nil, fmt.Errorf("images: source of %s: %w", program, err)
	}
	return b, nil
}
