package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Interval is one span of metered usage: a group incarnation running from
// Start until End (zero while open), requesting CPU vCPU and MemoryGB GB, at
// the prices in force when it opened. Times are whole Unix seconds.
type Interval struct {
	GroupUID      string
	Subscription  string
	ResourceGroup string
	Name          string
	Location      string
	CPU           float64
	MemoryGB      float64
	PriceVCPU     float64
	PriceGB       float64
	Currency      string
	Start         int64
	End           int64
}

// OpenInterval starts metering a group unless an interval is already open
// for it, which makes it safe to call again after a restart. It reports
// whether a new interval was opened.
func (s *Store) OpenInterval(ctx context.Context, in Interval) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO usage(group_uid, subscription, resource_group, name, location,
		cpu, memory_gb, price_vcpu, price_gb, currency, start_time)
		SELECT ?,?,?,?,?,?,?,?,?,?,? WHERE NOT EXISTS (
			SELECT 1 FROM usage WHERE group_uid = ? AND end_time IS NULL)`,
		in.GroupUID, in.Subscription, in.ResourceGroup, in.Name, in.Location, in.CPU, in.MemoryGB,
		in.PriceVCPU, in.PriceGB, in.Currency, in.Start, in.GroupUID)
	if err != nil {
		return false, fmt.Errorf("open usage of %s: %w", in.GroupUID, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// CloseInterval ends a group's open interval at end (never before its
// start). Closing a group with no open interval does nothing.
func (s *Store) CloseInterval(ctx context.Context, uid string, end int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE usage SET end_time = MAX(start_time, ?)
		WHERE group_uid = ? AND end_time IS NULL`, end, uid)
	if err != nil {
		return fmt.Errorf("close usage of %s: %w", uid, err)
	}
	return nil
}

// OpenIntervals returns the intervals still open.
func (s *Store) OpenIntervals(ctx context.Context) ([]Interval, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT group_uid, subscription, resource_group, name, location, cpu,
		memory_gb, price_vcpu, price_gb, currency, start_time FROM usage WHERE end_time IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("read open usage: %w", err)
	}
	defer rows.Close()
	var out []Interval
	for rows.Next() {
		var in Interval
		if err := rows.Scan(&in.GroupUID, &in.Subscription, &in.ResourceGroup, &in.Name, &in.Location, &in.CPU,
			&in.MemoryGB, &in.PriceVCPU, &in.PriceGB, &in.Currency, &in.Start); err != nil {
			return nil, fmt.Errorf("read open usage: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// UsageQuery selects and groups metered usage.
type UsageQuery struct {
	// From and To bound the window in Unix seconds; To is exclusive.
	From, To int64
	// Now closes open intervals for the computation.
	Now int64
	// Filters; empty matches everything.
	Subscription, ResourceGroup, Location, Name string
	// GroupBy lists the dimensions rows are grouped by, any of
	// "subscription", "resourceGroup", "location", "name".
	GroupBy []string
}

// UsageRow is the usage of one set of GroupBy values.
type UsageRow struct {
	Subscription, ResourceGroup, Location, Name string
	// Seconds is the sum of running seconds over the matching groups.
	Seconds     int64
	VCPUSeconds float64
	GBSeconds   float64
	Cost        float64
	Currency    string
}

var groupColumns = map[string]string{
	"subscription":  "subscription",
	"resourceGroup": "resource_group",
	"location":      "location",
	"name":          "name",
}

// Usage sums usage per the query.
func (s *Store) Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	cols := []string{"currency"}
	for _, g := range q.GroupBy {
		c, ok := groupColumns[g]
		if !ok {
			return nil, fmt.Errorf("unknown usage dimension %q", g)
		}
		cols = append(cols, c)
	}
	var where []string
	args := []any{sql.Named("now", q.Now), sql.Named("to", q.To), sql.Named("from", q.From)}
	for _, f := range []struct{ col, value string }{{"subscription", q.Subscription},
		{"resource_group", q.ResourceGroup}, {"location", q.Location}, {"name", q.Name}} {
		if f.value != "" {
			where = append(where, f.col+" = :"+f.col+" COLLATE NOCASE")
			args = append(args, sql.Named(f.col, f.value))
		}
	}
	// Intervals overlapping [From, To), plus open intervals that start at
	// To: a group started this very second is listed, with zero seconds.
	cond := "(start_time < :to OR (start_time = :to AND end_time IS NULL)) AND (end_time IS NULL OR end_time > :from)"
	if len(where) > 0 {
		cond += " AND " + strings.Join(where, " AND ")
	}
	// Each interval counts the whole seconds it overlaps [From, To).
	query := `WITH clipped AS (
		SELECT *, MAX(0, MIN(COALESCE(end_time, :now), :to) - MAX(start_time, :from)) AS secs
		FROM usage WHERE ` + cond + `)
		SELECT ` + strings.Join(cols, ", ") + `, SUM(secs), SUM(secs * cpu), SUM(secs * memory_gb),
		SUM(secs * cpu * price_vcpu + secs * memory_gb * price_gb)
		FROM clipped GROUP BY ` + strings.Join(cols, ", ") + ` ORDER BY ` + strings.Join(cols, ", ")
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query usage: %w", err)
	}
	defer rows.Close()
	var out []UsageRow
	for rows.Next() {
		var r UsageRow
		dest := []any{&r.Currency}
		for _, g := range q.GroupBy {
			switch g {
			case "subscription":
				dest = append(dest, &r.Subscription)
			case "resourceGroup":
				dest = append(dest, &r.ResourceGroup)
			case "location":
				dest = append(dest, &r.Location)
			case "name":
				dest = append(dest, &r.Name)
			}
		}
		dest = append(dest, &r.Seconds, &r.VCPUSeconds, &r.GBSeconds, &r.Cost)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read usage: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UnixSeconds is the whole second t falls in; usage is metered on these
// boundaries so consecutive intervals never share or skip a second.
func UnixSeconds(t time.Time) int64 { return t.Unix() }
