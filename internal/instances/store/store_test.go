package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOpenCreatesSchema(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s := openStore(t, dir)
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("database file: %v", err)
	}
	v, err := s.Meta(ctx, "schema_version")
	if err != nil {
		t.Fatal(err)
	}
	if v != "1" {
		t.Errorf("schema_version = %q, want 1", v)
	}
	for _, table := range []string{"meta", "groups", "operations", "events", "usage"} {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name=?`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("table %s missing", table)
		}
	}
	// Opening again keeps the version and succeeds.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, dir)
	if v, _ := s2.Meta(ctx, "schema_version"); v != "1" {
		t.Errorf("schema_version after reopen = %q", v)
	}
}

func TestOpenRefusesOtherSchemaVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "schema_version", "2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, dir)
	if err == nil {
		_ = s2.Close()
		t.Fatal("Open accepted a database of schema version 2")
	}
	if !strings.Contains(err.Error(), "version 2") || !strings.Contains(err.Error(), FileName) {
		t.Errorf("error %q does not name the version and the file", err)
	}
}

func TestOpenFailsOnUnusableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(context.Background(), filepath.Join(file, "sub")); err == nil {
		_ = s.Close()
		t.Fatal("Open under a regular file succeeded")
	}
}

func sampleGroup(key, uid string) *Group {
	return &Group{
		Key: key, UID: uid, Subscription: "Sub", ResourceGroup: "RG", Name: "n-" + uid, Location: "eastus",
		Spec: []byte(`{"properties":{}}`), Secrets: []byte{0, 1, 2, 0xff}, ProvisioningState: "Succeeded",
		Stopped: true, Status: []byte(`{"ID":"x"}`),
		CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), UpdatedAt: time.Date(2024, 2, 3, 4, 5, 6, 7, time.UTC),
	}
}

func TestPutGroupUpsertAndGroups(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	b := sampleGroup("sub/rg/b", "uid-b")
	a := sampleGroup("sub/rg/a", "uid-a")
	a.Secrets, a.Status, a.Stopped = nil, nil, false
	for _, g := range []*Group{b, a} {
		if err := s.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "sub/rg/a" || got[1].Key != "sub/rg/b" {
		t.Fatalf("Groups = %v, want a then b", keys(got))
	}
	if !reflect.DeepEqual(got[1], b) {
		t.Errorf("group b roundtrip:\n got %+v\nwant %+v", got[1], b)
	}
	if got[0].Stopped || got[0].Secrets != nil || got[0].Status != nil {
		t.Errorf("group a: stopped %v secrets %v status %v, want false/nil/nil", got[0].Stopped, got[0].Secrets, got[0].Status)
	}

	// Upsert replaces every column, uid included (a re-created group).
	b2 := sampleGroup("sub/rg/b", "uid-b2")
	b2.Spec, b2.Secrets, b2.Status = []byte(`{"v":2}`), []byte("sealed2"), []byte(`{}`)
	b2.ProvisioningState, b2.Stopped = "Failed", false
	b2.Location, b2.Subscription, b2.ResourceGroup, b2.Name = "westus", "SUB", "rg", "B"
	b2.CreatedAt = b.CreatedAt.Add(time.Hour)
	b2.UpdatedAt = b.UpdatedAt.Add(time.Nanosecond)
	if err := s.PutGroup(ctx, b2); err != nil {
		t.Fatal(err)
	}
	got, err = s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("after upsert %d groups, want 2", len(got))
	}
	if !reflect.DeepEqual(got[1], b2) {
		t.Errorf("upserted group:\n got %+v\nwant %+v", got[1], b2)
	}

	// uid is unique across keys.
	dup := sampleGroup("sub/rg/c", "uid-b2")
	if err := s.PutGroup(ctx, dup); err == nil {
		t.Error("PutGroup accepted a second group with the same uid")
	}
}

func TestGroupsTimesAreUTC(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	g := sampleGroup("k", "u")
	loc := time.FixedZone("X", 5*3600)
	g.CreatedAt = time.Date(2024, 6, 1, 12, 0, 0, 123456789, loc)
	g.UpdatedAt = g.CreatedAt
	if err := s.PutGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	got, err := s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].CreatedAt.Equal(g.CreatedAt) || got[0].CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got[0].CreatedAt, g.CreatedAt)
	}
}

func keys(gs []*Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Key)
	}
	return out
}

func TestDeleteGroupRemovesEvents(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	t0 := time.Unix(1000, 0).UTC()
	for _, g := range []*Group{sampleGroup("k1", "u1"), sampleGroup("k2", "u2")} {
		if err := s.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := s.AddEvents(ctx, []Event{{GroupUID: g.UID, Name: "Started", Message: "m", Type: "Normal", FirstTime: t0, LastTime: t0}}); err != nil {
			t.Fatal(err)
		}
	}
	// A wrong uid deletes nothing.
	if err := s.DeleteGroup(ctx, "k1", "other"); err != nil {
		t.Fatal(err)
	}
	if gs, _ := s.Groups(ctx); len(gs) != 2 {
		t.Fatalf("delete with another uid removed a group: %v", keys(gs))
	}
	if err := s.DeleteGroup(ctx, "k1", "u1"); err != nil {
		t.Fatal(err)
	}
	gs, err := s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Key != "k2" {
		t.Fatalf("groups after delete = %v, want [k2]", keys(gs))
	}
	if ev, err := s.Events(ctx, "u1"); err != nil || len(ev) != 0 {
		t.Errorf("events of deleted group = %v, %v; want none", ev, err)
	}
	if ev, err := s.Events(ctx, "u2"); err != nil || len(ev) != 1 {
		t.Errorf("events of kept group = %v, %v; want 1", ev, err)
	}
	// Deleting a missing group is not an error.
	if err := s.DeleteGroup(ctx, "missing", "missing"); err != nil {
		t.Errorf("DeleteGroup(missing) = %v", err)
	}
}

func TestOperations(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(id string, start time.Duration) *Operation {
		return &Operation{ID: id, GroupKey: "k-" + id, GroupUID: "u-" + id, Kind: "create", Status: "InProgress",
			Subscription: "sub", Location: "eastus", StartTime: base.Add(start)}
	}
	ops := []*Operation{mk("c", 3*time.Second), mk("a", time.Second), mk("b", 2*time.Second)}
	for _, op := range ops {
		if err := s.PutOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Operation(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ops[1]) {
		t.Errorf("Operation(a):\n got %+v\nwant %+v", got, ops[1])
	}
	if !got.EndTime.IsZero() {
		t.Errorf("in-progress operation has EndTime %v", got.EndTime)
	}
	if _, err := s.Operation(ctx, "nope"); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("Operation(missing) = %v, want sql.ErrNoRows", err)
	}

	inProgress, err := s.OperationsInProgress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := opIDs(inProgress); !reflect.DeepEqual(ids, []string{"a", "b", "c"}) {
		t.Errorf("in progress = %v, want [a b c] (by start time)", ids)
	}

	// Ending an operation updates status, end and error, but not its identity.
	end := ops[1]
	end.Status, end.EndTime, end.ErrorCode, end.ErrorMessage = "Failed", base.Add(10*time.Second), "Boom", "it broke"
	changed := *end
	changed.Kind, changed.GroupKey, changed.Subscription = "delete", "other", "other"
	if err := s.PutOperation(ctx, &changed); err != nil {
		t.Fatal(err)
	}
	got, err = s.Operation(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, end) {
		t.Errorf("ended operation:\n got %+v\nwant %+v", got, end)
	}
	ended := ops[2]
	ended.Status, ended.EndTime = "Succeeded", base.Add(20*time.Second)
	if err := s.PutOperation(ctx, ended); err != nil {
		t.Fatal(err)
	}
	inProgress, _ = s.OperationsInProgress(ctx)
	if ids := opIDs(inProgress); !reflect.DeepEqual(ids, []string{"c"}) {
		t.Errorf("in progress = %v, want [c]", ids)
	}

	// Prune deletes ended operations older than the cutoff only.
	if err := s.PruneOperations(ctx, base.Add(15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Operation(ctx, "a"); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("operation ended at 10s survived a prune before 15s: %v", err)
	}
	for _, id := range []string{"b", "c"} {
		if _, err := s.Operation(ctx, id); err != nil {
			t.Errorf("operation %s pruned: %v", id, err)
		}
	}
	// The cutoff is exclusive; in-progress operations are never pruned.
	if err := s.PruneOperations(ctx, base.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Operation(ctx, "b"); err != nil {
		t.Errorf("operation ended exactly at the cutoff pruned: %v", err)
	}
	if err := s.PruneOperations(ctx, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Operation(ctx, "b"); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("operation b survived: %v", err)
	}
	if _, err := s.Operation(ctx, "c"); err != nil {
		t.Errorf("in-progress operation pruned: %v", err)
	}
}

func opIDs(ops []*Operation) []string {
	var out []string
	for _, op := range ops {
		out = append(out, op.ID)
	}
	return out
}

func TestAddEventsAggregates(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	at := func(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
	ev := func(container, name, msg, typ string, sec int64) Event {
		return Event{GroupUID: "u", Container: container, Name: name, Message: msg, Type: typ, FirstTime: at(sec), LastTime: at(sec)}
	}
	if err := s.AddEvents(ctx, nil); err != nil {
		t.Fatalf("AddEvents(nil) = %v", err)
	}
	batch1 := []Event{
		ev("web", "Pulling", "pulling nginx", "Normal", 10),
		ev("", "Scheduled", "group scheduled", "Normal", 5),
		ev("web", "Started", "started", "Normal", 12),
	}
	if err := s.AddEvents(ctx, batch1); err != nil {
		t.Fatal(err)
	}
	repeat := ev("web", "Pulling", "pulling nginx", "Warning", 30)
	repeat.Count = 3
	batch2 := []Event{
		repeat,
		ev("web", "Pulling", "pulling nginx", "Warning", 40), // count 0 counts as 1
		ev("side", "Pulling", "pulling nginx", "Normal", 11), // another container: separate
		ev("web", "Pulling", "pulling redis", "Normal", 13),  // another message: separate
		ev("web", "Pulled", "pulling nginx", "Normal", 14),   // another name: separate
		ev("web", "Started", "started", "Normal", 50),
	}
	if err := s.AddEvents(ctx, batch2); err != nil {
		t.Fatal(err)
	}
	// Events of another group are not returned.
	other := ev("web", "Pulling", "pulling nginx", "Normal", 1)
	other.GroupUID = "other"
	if err := s.AddEvents(ctx, []Event{other}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		container, name, msg, typ string
		count                     int32
		first, last               int64
	}
	var rows []row
	for _, e := range got {
		if e.GroupUID != "u" {
			t.Errorf("event %+v has GroupUID %q", e, e.GroupUID)
		}
		rows = append(rows, row{e.Container, e.Name, e.Message, e.Type, e.Count, e.FirstTime.Unix(), e.LastTime.Unix()})
	}
	want := []row{
		{"", "Scheduled", "group scheduled", "Normal", 1, 5, 5},
		{"web", "Pulling", "pulling nginx", "Warning", 5, 10, 40},
		{"side", "Pulling", "pulling nginx", "Normal", 1, 11, 11},
		{"web", "Started", "started", "Normal", 2, 12, 50},
		{"web", "Pulling", "pulling redis", "Normal", 1, 13, 13},
		{"web", "Pulled", "pulling nginx", "Normal", 1, 14, 14},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("events:\n got %+v\nwant %+v", rows, want)
	}
	if got[0].FirstTime.Location() != time.UTC {
		t.Errorf("event times not UTC")
	}
}

func TestEventsOrderTiesByInsertion(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	t0 := time.Unix(100, 0)
	var in []Event
	names := []string{"z", "a", "m", "b"}
	for _, n := range names {
		in = append(in, Event{GroupUID: "u", Name: n, Message: n, Type: "Normal", FirstTime: t0, LastTime: t0})
	}
	if err := s.AddEvents(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range got {
		order = append(order, e.Name)
	}
	if !reflect.DeepEqual(order, names) {
		t.Errorf("events with equal times in order %v, want insertion order %v", order, names)
	}
	if ev, err := s.Events(ctx, "nobody"); err != nil || ev != nil {
		t.Errorf("Events(unknown) = %v, %v", ev, err)
	}
}

func TestMeta(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	if v, err := s.Meta(ctx, "heartbeat"); err != nil || v != "" {
		t.Errorf("Meta(unset) = %q, %v; want empty", v, err)
	}
	for _, v := range []string{"1", "22", ""} {
		if err := s.SetMeta(ctx, "heartbeat", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Meta(ctx, "heartbeat"); err != nil || got != v {
			t.Errorf("Meta after SetMeta(%q) = %q, %v", v, got, err)
		}
	}
	if err := s.SetMeta(ctx, "other", "x"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Meta(ctx, "heartbeat"); got != "" {
		t.Errorf("SetMeta of another key changed heartbeat to %q", got)
	}
}

func iv(uid string, start int64) Interval {
	return Interval{GroupUID: uid, Subscription: "SubA", ResourceGroup: "rg1", Name: "n-" + uid, Location: "eastus",
		CPU: 1, MemoryGB: 2, PriceVCPU: 0.01, PriceGB: 0.001, Currency: "USD", Start: start}
}

func TestIntervalsOpenClose(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	in := iv("g1", 100)
	opened, err := s.OpenInterval(ctx, in)
	if err != nil || !opened {
		t.Fatalf("OpenInterval = %v, %v; want true", opened, err)
	}
	// Idempotent while open, whatever the new values.
	again := in
	again.Start, again.CPU = 150, 4
	opened, err = s.OpenInterval(ctx, again)
	if err != nil || opened {
		t.Fatalf("second OpenInterval = %v, %v; want false", opened, err)
	}
	open, err := s.OpenIntervals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || !reflect.DeepEqual(open[0], in) {
		t.Fatalf("OpenIntervals = %+v, want [%+v]", open, in)
	}

	// Closing before the start closes at the start.
	if err := s.CloseInterval(ctx, "g1", 50); err != nil {
		t.Fatal(err)
	}
	if open, _ := s.OpenIntervals(ctx); len(open) != 0 {
		t.Fatalf("still open after close: %+v", open)
	}
	var end int64
	if err := s.db.QueryRowContext(ctx, `SELECT end_time FROM usage WHERE group_uid = 'g1'`).Scan(&end); err != nil {
		t.Fatal(err)
	}
	if end != 100 {
		t.Errorf("end_time = %d, want 100 (the start)", end)
	}
	// Closing again does nothing; closing an unknown group does nothing.
	if err := s.CloseInterval(ctx, "g1", 500); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseInterval(ctx, "nobody", 500); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT end_time FROM usage WHERE group_uid = 'g1'`).Scan(&end); err != nil {
		t.Fatal(err)
	}
	if end != 100 {
		t.Errorf("second close moved end_time to %d", end)
	}

	// A closed group can open a new interval; only the open one is closed.
	in2 := iv("g1", 200)
	if opened, err := s.OpenInterval(ctx, in2); err != nil || !opened {
		t.Fatalf("reopen = %v, %v", opened, err)
	}
	if opened, err := s.OpenInterval(ctx, iv("g2", 210)); err != nil || !opened {
		t.Fatalf("open g2 = %v, %v", opened, err)
	}
	if err := s.CloseInterval(ctx, "g1", 260); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseInterval(ctx, "g1", 999); err != nil {
		t.Fatal(err)
	}
	open, _ = s.OpenIntervals(ctx)
	if len(open) != 1 || open[0].GroupUID != "g2" {
		t.Fatalf("open = %+v, want g2 only", open)
	}
	rows, err := s.Usage(ctx, UsageQuery{From: 0, To: 1000, Now: 300, Name: "n-g1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Seconds != 60 {
		t.Errorf("g1 usage = %+v, want 60 s (0 + 60)", rows)
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestUsageWindows(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	// closed: [100, 200); open: [250, …).
	if _, err := s.OpenInterval(ctx, iv("closed", 100)); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseInterval(ctx, "closed", 200); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenInterval(ctx, iv("open", 250)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		from, to, now int64
		want          map[string]int64 // name → seconds; absent: no row
	}{
		{"window clips the start", 150, 300, 300, map[string]int64{"n-closed": 50, "n-open": 50}},
		{"window covers all", 0, 1000, 400, map[string]int64{"n-closed": 100, "n-open": 150}},
		{"window clips the end", 0, 150, 400, map[string]int64{"n-closed": 50}},
		{"window inside the interval", 120, 130, 400, map[string]int64{"n-closed": 10}},
		{"open interval ends at now", 0, 1000, 260, map[string]int64{"n-closed": 100, "n-open": 10}},
		{"open interval clipped at to", 0, 300, 5000, map[string]int64{"n-closed": 100, "n-open": 50}},
		{"now before the open interval's start", 0, 1000, 240, map[string]int64{"n-closed": 100, "n-open": 0}},
		{"interval ending before from excluded", 201, 1000, 300, map[string]int64{"n-open": 50}},
		{"window before everything", 0, 50, 300, map[string]int64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.Usage(ctx, UsageQuery{From: tc.from, To: tc.to, Now: tc.now, GroupBy: []string{"name"}})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, r := range rows {
				got[r.Name] = r.Seconds
				if r.Currency != "USD" {
					t.Errorf("row %s currency %q", r.Name, r.Currency)
				}
				if !approx(r.VCPUSeconds, float64(r.Seconds)*1) || !approx(r.GBSeconds, float64(r.Seconds)*2) {
					t.Errorf("row %s: vcpu-s %v gb-s %v for %d s", r.Name, r.VCPUSeconds, r.GBSeconds, r.Seconds)
				}
				if want := float64(r.Seconds)*1*0.01 + float64(r.Seconds)*2*0.001; !approx(r.Cost, want) {
					t.Errorf("row %s cost %v, want %v", r.Name, r.Cost, want)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("seconds by name = %v, want %v", got, tc.want)
			}
		})
	}
}

// An interval that merely touches a window, [100, 200) and [200, 300), does
// not overlap it and produces no row; an open interval starting at To (a
// group started this very second) is listed with zero seconds.
func TestUsageTouchingIntervals(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	if _, err := s.OpenInterval(ctx, iv("closed", 100)); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseInterval(ctx, "closed", 200); err != nil {
		t.Fatal(err)
	}
	for _, q := range []UsageQuery{{From: 200, To: 300, Now: 400}, {From: 0, To: 100, Now: 400}} {
		rows, err := s.Usage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 0 {
			t.Errorf("window [%d, %d): rows %+v, want none", q.From, q.To, rows)
		}
	}
	if _, err := s.OpenInterval(ctx, iv("new", 300)); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Usage(ctx, UsageQuery{From: 200, To: 300, Now: 300, GroupBy: []string{"name"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Name != "n-new" || rows[0].Seconds != 0 {
		t.Errorf("open interval starting at To: rows %+v, want n-new with 0 s", rows)
	}
	// A closed interval starting at To is not listed.
	if err := s.CloseInterval(ctx, "new", 310); err != nil {
		t.Fatal(err)
	}
	if rows, _ := s.Usage(ctx, UsageQuery{From: 200, To: 300, Now: 400}); len(rows) != 0 {
		t.Errorf("closed interval starting at To: rows %+v, want none", rows)
	}
}

func TestUsageFiltersAndGroupBy(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	// Each runs [0, 100) unless said otherwise.
	type spec struct {
		uid, sub, rg, loc, name string
		cpu, mem, pv, pg        float64
		cur                     string
		secs                    int64
	}
	specs := []spec{
		{"a", "SubA", "rg1", "eastus", "web", 1, 2, 0.01, 0.001, "USD", 100},
		{"b", "SubA", "rg1", "westus", "web", 2, 4, 0.02, 0.002, "USD", 50},
		{"c", "SubA", "RG2", "eastus", "db", 0.5, 1, 0.01, 0.001, "USD", 10},
		{"d", "SubB", "rg1", "eastus", "web", 1, 1, 0.01, 0.001, "USD", 20},
		{"e", "SubA", "rg1", "eastus", "eu", 1, 1, 0.5, 0.25, "EUR", 4},
	}
	for _, sp := range specs {
		in := Interval{GroupUID: sp.uid, Subscription: sp.sub, ResourceGroup: sp.rg, Name: sp.name, Location: sp.loc,
			CPU: sp.cpu, MemoryGB: sp.mem, PriceVCPU: sp.pv, PriceGB: sp.pg, Currency: sp.cur, Start: 0}
		if _, err := s.OpenInterval(ctx, in); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseInterval(ctx, sp.uid, sp.secs); err != nil {
			t.Fatal(err)
		}
	}
	type agg struct {
		secs          int64
		vcpu, gb, cst float64
	}
	sum := func(pick func(spec) bool) agg {
		var a agg
		for _, sp := range specs {
			if pick(sp) {
				a.secs += sp.secs
				a.vcpu += float64(sp.secs) * sp.cpu
				a.gb += float64(sp.secs) * sp.mem
				a.cst += float64(sp.secs)*sp.cpu*sp.pv + float64(sp.secs)*sp.mem*sp.pg
			}
		}
		return a
	}
	check := func(t *testing.T, r UsageRow, want agg) {
		t.Helper()
		if r.Seconds != want.secs || !approx(r.VCPUSeconds, want.vcpu) || !approx(r.GBSeconds, want.gb) || !approx(r.Cost, want.cst) {
			t.Errorf("row %+v, want %+v", r, want)
		}
	}
	base := UsageQuery{From: 0, To: 1000, Now: 1000}
	q := func(mod func(*UsageQuery)) []UsageRow {
		t.Helper()
		qq := base
		mod(&qq)
		rows, err := s.Usage(ctx, qq)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	usd := func(sp spec) bool { return sp.cur == "USD" }

	t.Run("no grouping: one row per currency", func(t *testing.T) {
		rows := q(func(*UsageQuery) {})
		if len(rows) != 2 || rows[0].Currency != "EUR" || rows[1].Currency != "USD" {
			t.Fatalf("rows %+v, want EUR then USD", rows)
		}
		check(t, rows[0], sum(func(sp spec) bool { return sp.cur == "EUR" }))
		check(t, rows[1], sum(usd))
		if rows[1].Subscription != "" || rows[1].Name != "" || rows[1].Location != "" || rows[1].ResourceGroup != "" {
			t.Errorf("ungrouped row names dimensions: %+v", rows[1])
		}
	})
	t.Run("subscription filter is case-insensitive", func(t *testing.T) {
		for _, sub := range []string{"SubB", "subb", "SUBB"} {
			rows := q(func(q *UsageQuery) { q.Subscription = sub })
			if len(rows) != 1 {
				t.Fatalf("%s: rows %+v", sub, rows)
			}
			check(t, rows[0], sum(func(sp spec) bool { return sp.sub == "SubB" }))
		}
	})
	t.Run("resourceGroup filter", func(t *testing.T) {
		rows := q(func(q *UsageQuery) { q.ResourceGroup = "rg2" })
		if len(rows) != 1 {
			t.Fatalf("rows %+v", rows)
		}
		check(t, rows[0], sum(func(sp spec) bool { return sp.rg == "RG2" }))
	})
	t.Run("location filter", func(t *testing.T) {
		rows := q(func(q *UsageQuery) { q.Location = "westus" })
		if len(rows) != 1 {
			t.Fatalf("rows %+v", rows)
		}
		check(t, rows[0], sum(func(sp spec) bool { return sp.loc == "westus" }))
	})
	t.Run("name filter", func(t *testing.T) {
		rows := q(func(q *UsageQuery) { q.Name = "web" })
		if len(rows) != 1 {
			t.Fatalf("rows %+v", rows)
		}
		check(t, rows[0], sum(func(sp spec) bool { return sp.name == "web" }))
	})
	t.Run("filters combine", func(t *testing.T) {
		rows := q(func(q *UsageQuery) { q.Subscription, q.Location, q.Name = "suba", "eastus", "web" })
		if len(rows) != 1 {
			t.Fatalf("rows %+v", rows)
		}
		check(t, rows[0], sum(func(sp spec) bool { return sp.uid == "a" }))
		if rows := q(func(q *UsageQuery) { q.Name = "nothing" }); len(rows) != 0 {
			t.Errorf("unmatched filter rows %+v", rows)
		}
	})
	t.Run("group by subscription", func(t *testing.T) {
		rows := q(func(q *UsageQuery) { q.Subscription, q.GroupBy = "", []string{"subscription"} })
		// Ordered by currency then subscription.
		want := []struct {
			cur, sub string
		}{{"EUR", "SubA"}, {"USD", "SubA"}, {"USD", "SubB"}}
		if len(rows) != len(want) {
			t.Fatalf("rows %+v", rows)
		}
		for i, w := range want {
			if rows[i].Currency != w.cur || rows[i].Subscription != w.sub {
				t.Errorf("row %d = %s/%s, want %s/%s", i, rows[i].Currency, rows[i].Subscription, w.cur, w.sub)
			}
			check(t, rows[i], sum(func(sp spec) bool { return sp.cur == w.cur && sp.sub == w.sub }))
			if rows[i].Name != "" || rows[i].Location != "" {
				t.Errorf("row %d names ungrouped dimensions: %+v", i, rows[i])
			}
		}
	})
	t.Run("group by location and name", func(t *testing.T) {
		rows := q(func(q *UsageQuery) { q.Subscription, q.GroupBy = "SubA", []string{"location", "name"} })
		type k struct{ cur, loc, name string }
		var got []k
		for _, r := range rows {
			got = append(got, k{r.Currency, r.Location, r.Name})
			check(t, r, sum(func(sp spec) bool {
				return sp.sub == "SubA" && sp.cur == r.Currency && sp.loc == r.Location && sp.name == r.Name
			}))
		}
		want := []k{{"EUR", "eastus", "eu"}, {"USD", "eastus", "db"}, {"USD", "eastus", "web"}, {"USD", "westus", "web"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("rows %v, want %v", got, want)
		}
	})
	t.Run("group by every dimension", func(t *testing.T) {
		rows := q(func(q *UsageQuery) {
			q.GroupBy = []string{"name", "resourceGroup", "subscription", "location"}
		})
		if len(rows) != len(specs) {
			t.Fatalf("%d rows, want %d: %+v", len(rows), len(specs), rows)
		}
		for _, r := range rows {
			check(t, r, sum(func(sp spec) bool {
				return sp.cur == r.Currency && sp.sub == r.Subscription && sp.rg == r.ResourceGroup && sp.loc == r.Location && sp.name == r.Name
			}))
		}
	})
	t.Run("group by resourceGroup", func(t *testing.T) {
		rows := q(func(q *UsageQuery) { q.GroupBy = []string{"resourceGroup"}; q.Subscription = "suba" })
		var got []string
		for _, r := range rows {
			if r.Currency == "USD" {
				got = append(got, r.ResourceGroup)
			}
		}
		if !reflect.DeepEqual(got, []string{"RG2", "rg1"}) {
			t.Errorf("USD resource groups %v", got)
		}
	})
	t.Run("unknown dimension", func(t *testing.T) {
		for _, dim := range []string{"group", "resource_group", "Subscription", ""} {
			qq := base
			qq.GroupBy = []string{"name", dim}
			if _, err := s.Usage(ctx, qq); err == nil || !strings.Contains(err.Error(), "unknown usage dimension") {
				t.Errorf("GroupBy %q: err %v", dim, err)
			}
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	g := sampleGroup("sub/rg/a", "uid-a")
	op := &Operation{ID: "op1", GroupKey: g.Key, GroupUID: g.UID, Kind: "create", Status: "InProgress",
		Subscription: "Sub", Location: "eastus", StartTime: time.Unix(10, 5).UTC()}
	ev := Event{GroupUID: g.UID, Container: "web", Name: "Started", Message: "m", Type: "Normal", Count: 2,
		FirstTime: time.Unix(11, 0).UTC(), LastTime: time.Unix(12, 0).UTC()}
	in := iv(g.UID, 100)
	steps := []error{
		s.PutGroup(ctx, g), s.PutOperation(ctx, op), s.AddEvents(ctx, []Event{ev}), s.SetMeta(ctx, "heartbeat", "42"),
	}
	_, err = s.OpenInterval(ctx, in)
	steps = append(steps, err)
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir)
	gs, err := s2.Groups(ctx)
	if err != nil || len(gs) != 1 || !reflect.DeepEqual(gs[0], g) {
		t.Errorf("groups after reopen = %+v, %v", gs, err)
	}
	if !bytes.Equal(gs[0].Secrets, g.Secrets) {
		t.Errorf("secrets changed")
	}
	gotOp, err := s2.Operation(ctx, "op1")
	if err != nil || !reflect.DeepEqual(gotOp, op) {
		t.Errorf("operation after reopen = %+v, %v", gotOp, err)
	}
	evs, err := s2.Events(ctx, g.UID)
	if err != nil || len(evs) != 1 || !reflect.DeepEqual(evs[0], ev) {
		t.Errorf("events after reopen = %+v, %v", evs, err)
	}
	if v, _ := s2.Meta(ctx, "heartbeat"); v != "42" {
		t.Errorf("heartbeat after reopen = %q", v)
	}
	open, err := s2.OpenIntervals(ctx)
	if err != nil || len(open) != 1 || !reflect.DeepEqual(open[0], in) {
		t.Errorf("open intervals after reopen = %+v, %v", open, err)
	}
	// Still open: a second open after the restart is refused.
	if opened, err := s2.OpenInterval(ctx, in); err != nil || opened {
		t.Errorf("OpenInterval after reopen = %v, %v; want false", opened, err)
	}
}
