package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// RunInfo describes a run, for the record in docs/conformance.md; a run
// writes it to RESULTS/run.json.
type RunInfo struct {
	// Date is when the suite started.
	Date time.Time `json:"date"`
	// Commit is the vnode commit run, and Subject its first line.
	Commit  string `json:"commit"`
	Subject string `json:"subject,omitempty"`
	// Machine describes the host (OS, CPUs, memory).
	Machine string `json:"machine"`
	// Command is the command line of the run.
	Command string `json:"command"`
	// Focus, when set, limited the run to the tests it matches.
	Focus string `json:"focus,omitempty"`
	// BuildTime is how long the binaries and images took; SuiteTime the
	// ginkgo run.
	BuildTime time.Duration `json:"buildTime"`
	SuiteTime time.Duration `json:"suiteTime"`
}

// ReadRunInfo reads RESULTS/run.json.
func ReadRunInfo(path string) (RunInfo, error) {
	var info RunInfo
	data, err := os.ReadFile(path)
	if err != nil {
		return info, fmt.Errorf("read the run's description: %w", err)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("parse the run's description %s: %w", path, err)
	}
	return info, nil
}

// Write writes info as JSON to path.
func (info RunInfo) Write(path string) error {
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the run's description: %w", err)
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// The markers around the generated part of docs/conformance.md.
const (
	BeginMarker = "<!-- BEGIN GENERATED RESULTS (go run ./test/conformance doc) -->"
	EndMarker   = "<!-- END GENERATED RESULTS -->"
)

// RenderResults writes the generated part of docs/conformance.md: the
// run's record, its figures, the failures grouped by cause, and the table
// of every test with its result and, for a failure, its reason.
func RenderResults(info RunInfo, r Report, reasons []Reason) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Run of %s\n\n", info.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Commit: `%s`", shortCommit(info.Commit))
	if info.Subject != "" {
		fmt.Fprintf(&b, " (%s)", info.Subject)
	}
	fmt.Fprintf(&b, "\n- Machine: %s\n- Command: `%s`\n", info.Machine, info.Command)
	if info.Focus != "" {
		fmt.Fprintf(&b, "- Focus: `%s` (not the whole suite)\n", info.Focus)
	}
	fmt.Fprintf(&b, "- Build (binaries, images): %s; suite: %s\n", round(info.BuildTime), round(info.SuiteTime))
	fmt.Fprintf(&b, "- Result: **%d passed, %d failed, %d skipped** of %d tests", r.Count(StatePassed), r.Count(StateFailed),
		r.Count(StateSkipped), len(r.Results))
	if n := r.Count(StateNotRun); n > 0 {
		fmt.Fprintf(&b, " (%d not run: left out by the focus)", n)
	}
	b.WriteString("\n")
	for _, f := range r.SuiteFailures {
		fmt.Fprintf(&b, "- Suite node failed: %s: %s\n", cell(f.Name), cell(f.Detail))
	}
	writeCauses(&b, r, reasons)
	b.WriteString("\n| Test | Result | Why it fails |\n| --- | --- | --- |\n")
	for _, res := range r.Results {
		why := ""
		switch res.State {
		case StateFailed:
			if reason, ok := ReasonFor(reasons, res.Name); ok {
				why = reason.Why
				if k := reason.kind(); k != kindGap {
					why = k + ": " + why
				}
			} else {
				why = "not yet classified: " + res.Detail
			}
		case StateSkipped:
			why = "skipped: " + res.Detail
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(res.Name), res.State, cell(why))
	}
	return b.String()
}

// Kinds of failure causes, in the order writeCauses lists them.
const (
	kindInherent = "cannot pass on a virtual node"
	kindStandIn  = "stand-in image, not vnode"
	kindGap      = "gap"
	kindUnknown  = "unexplained"
)

func (r Reason) kind() string {
	switch {
	case r.Inherent:
		return kindInherent
	case r.StandIn:
		return kindStandIn
	}
	return kindGap
}

// writeCauses lists the failures grouped by their reason: inherent ones
// first, then those of stand-in images, then gaps, then those no reason
// explains.
func writeCauses(b *strings.Builder, r Report, reasons []Reason) {
	failures := r.Failures()
	if len(failures) == 0 {
		return
	}
	const unclassified = "Not yet classified"
	groups := map[string][]string{}
	kinds := map[string]string{unclassified: kindUnknown}
	for _, f := range failures {
		cause := unclassified
		if reason, ok := ReasonFor(reasons, f.Name); ok {
			cause, kinds[reason.Why] = reason.Why, reason.kind()
		}
		groups[cause] = append(groups[cause], f.Name)
	}
	causes := make([]string, 0, len(groups))
	for c := range groups {
		causes = append(causes, c)
	}
	order := []string{kindInherent, kindStandIn, kindGap, kindUnknown}
	sort.Slice(causes, func(i, j int) bool {
		if a, b := slices.Index(order, kinds[causes[i]]), slices.Index(order, kinds[causes[j]]); a != b {
			return a < b
		}
		return causes[i] < causes[j]
	})
	b.WriteString("\nFailures by cause:\n\n")
	for _, c := range causes {
		fmt.Fprintf(b, "- %s (%s, %d): %s\n", cell(c), kinds[c], len(groups[c]), cell(strings.Join(groups[c], "; ")))
	}
}

// UnexpectedFailures are the failures that neither an inherent reason nor
// a stand-in image explains: those a virtual node should not have.
func UnexpectedFailures(r Report, reasons []Reason) []Result {
	var out []Result
	for _, f := range r.Failures() {
		if reason, ok := ReasonFor(reasons, f.Name); !ok || (!reason.Inherent && !reason.StandIn) {
			out = append(out, f)
		}
	}
	return out
}

// WriteDoc replaces the generated part of the document at path (between
// BeginMarker and EndMarker) with results.
func WriteDoc(path, results string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	begin := bytes.Index(data, []byte(BeginMarker))
	end := bytes.Index(data, []byte(EndMarker))
	if begin < 0 || end < begin {
		return errors.New(path + " lacks the markers " + BeginMarker + " and " + EndMarker)
	}
	var out bytes.Buffer
	out.Write(data[:begin+len(BeginMarker)])
	out.WriteString("\n\n")
	out.WriteString(results)
	out.WriteString("\n")
	out.Write(data[end:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// cell makes s safe in a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// shortCommit is a commit's first 12 hex digits, with its "-dirty" mark.
func shortCommit(c string) string {
	hash, dirty := strings.CutSuffix(c, "-dirty")
	if len(hash) > 12 {
		hash = hash[:12]
	}
	if dirty {
		hash += "-dirty"
	}
	return hash
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }
