package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/vnode-io/vnode/internal/conformance"
)

// defaultResults is where a run leaves its results, relative to the source
// tree's root.
const defaultResults = "_output/conformance"

// docCommand writes the results of a run's directory into the generated
// part of docs/conformance.md.
func docCommand(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("doc", flag.ContinueOnError)
	results := fs.String("results", defaultResults, "results directory of the run (junit_01.xml, run.json)")
	doc := fs.String("doc", "docs/conformance.md", "document whose generated part to replace")
	if err := fs.Parse(args); err != nil {
		return err
	}
	info, err := conformance.ReadRunInfo(filepath.Join(*results, runInfoFile))
	if err != nil {
		return err
	}
	report, err := conformance.ReadJUnit(filepath.Join(*results, junitFile))
	if err != nil {
		return err
	}
	if err := conformance.WriteDoc(*doc, conformance.RenderResults(info, report, conformance.KnownReasons())); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote the results of %s into %s\n", *results, *doc)
	return nil
}
