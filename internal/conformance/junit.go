package conformance

import (
	"encoding/xml"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// The labels of the tests a run selects, as the suite writes them into the
// tests' names.
const (
	conformanceTag     = "[Conformance]"
	nodeConformanceTag = "[NodeConformance]"
)

// LabelFilter is the ginkgo label filter of the tests a run selects.
const LabelFilter = "Conformance && NodeConformance"

// The states of a test in the report (ginkgo's SpecState names).
const (
	StatePassed  = "passed"
	StateFailed  = "failed"
	StateSkipped = "skipped"
	// StateNotRun is a selected test that a run's --focus or --skip left
	// out: ginkgo reports it as skipped without a reason.
	StateNotRun = "not run"
)

// Result is the outcome of one test.
type Result struct {
	// Name is the test's full text, labels included.
	Name string
	// State is StatePassed, StateSkipped, StateNotRun or StateFailed (which also
	// stands for ginkgo's panicked, interrupted, aborted and timedout;
	// Detail names those).
	State string
	// Seconds is how long the test ran.
	Seconds float64
	// Detail is the first line of the failure, or the reason for a skip.
	Detail string
}

// Report is what a JUnit report says about the selected tests.
type Report struct {
	// Results of the tests carrying both labels, sorted by name.
	Results []Result
	// SuiteFailures are failed suite nodes (BeforeSuite, ReportAfterSuite,
	// ...): when one fails, the tests' results may not mean much.
	SuiteFailures []Result
}

// Count returns how many results are in state.
func (r Report) Count(state string) int {
	n := 0
	for _, res := range r.Results {
		if res.State == state {
			n++
		}
	}
	return n
}

// Failures returns the failed results.
func (r Report) Failures() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.State == StateFailed {
			out = append(out, res)
		}
	}
	return out
}

type junitSuites struct {
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Cases []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string        `xml:"name,attr"`
	Status  string        `xml:"status,attr"`
	Time    float64       `xml:"time,attr"`
	Skipped *junitMessage `xml:"skipped"`
	Failure *junitMessage `xml:"failure"`
	Error   *junitMessage `xml:"error"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// maxDetail bounds a result's Detail.
const maxDetail = 300

// ReadJUnit reads a JUnit report of ginkgo (the suite's
// REPORT_DIR/junit_01.xml) and returns the results of the tests labelled
// Conformance and NodeConformance; the others are in the report only as
// skipped by the label filter.
func ReadJUnit(path string) (Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Report{}, fmt.Errorf("read the JUnit report: %w", err)
	}
	return ParseJUnit(data)
}

// ParseJUnit is ReadJUnit on the report's contents.
func ParseJUnit(data []byte) (Report, error) {
	var doc junitSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		return Report{}, fmt.Errorf("parse the JUnit report: %w", err)
	}
	var r Report
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			res := c.result()
			switch {
			case !strings.HasPrefix(c.Name, "[It] "):
				if res.State == StateFailed {
					r.SuiteFailures = append(r.SuiteFailures, res)
				}
			case strings.Contains(res.Name, conformanceTag) && strings.Contains(res.Name, nodeConformanceTag):
				r.Results = append(r.Results, res)
			}
		}
	}
	sort.Slice(r.Results, func(i, j int) bool { return r.Results[i].Name < r.Results[j].Name })
	return r, nil
}

func (c junitCase) result() Result {
	res := Result{Name: strings.TrimPrefix(c.Name, "[It] "), Seconds: c.Time}
	switch {
	case c.Failure != nil || c.Error != nil:
		res.State = StateFailed
		m := c.Failure
		if m == nil {
			m = c.Error
		}
		res.Detail = failureLine(m)
		if c.Status != StateFailed && c.Status != "" {
			res.Detail = c.Status + ": " + res.Detail
		}
	case c.Skipped != nil && c.Skipped.Message == StateSkipped:
		res.State = StateNotRun
	case c.Skipped != nil || c.Status == StateSkipped || c.Status == "pending":
		res.State = StateSkipped
		if c.Skipped != nil {
			res.Detail = strings.TrimPrefix(strings.TrimPrefix(c.Skipped.Message, "skipped"), " - ")
		}
	default:
		res.State = StatePassed
	}
	return res
}

// failureLine is the start of a failure, on one line: the message
// attribute, or the text after ginkgo's [FAILED] / [PANICKED] / [TIMEDOUT]
// marker up to where ginkgo says where it failed ("In [It] at: ..."), at
// most failureLines lines (gomega spreads "Expected <x> to equal <y>" over
// several).
func failureLine(m *junitMessage) string {
	const failureLines = 6
	text := m.Message
	if text == "" {
		text = m.Text
	}
	var kept []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "In [") || len(kept) == failureLines {
			break
		}
		for _, marker := range []string{"[FAILED]", "[PANICKED]", "[TIMEDOUT]", "[INTERRUPTED]"} {
			line = strings.TrimSpace(strings.TrimPrefix(line, marker))
		}
		if line != "" {
			kept = append(kept, line)
		}
	}
	if len(kept) == 0 {
		return m.Type
	}
	return truncate(strings.Join(kept, " "), maxDetail)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
