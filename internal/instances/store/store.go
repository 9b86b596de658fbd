// Package store persists the container instances service's state in SQLite
// (WAL mode): container groups, operations, events and metered usage.
//
// The service keeps its working set in memory and writes through to the
// store, so the store's job is durability across restarts and crashes, not
// serving reads on the hot path.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the database's name inside the data directory.
const FileName = "instances.db"

// schemaVersion is bumped with every incompatible change to schema.
const schemaVersion = 1

const schema = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
	key                TEXT PRIMARY KEY,
	uid                TEXT NOT NULL UNIQUE,
	subscription       TEXT NOT NULL,
	resource_group     TEXT NOT NULL,
	name               TEXT NOT NULL,
	location           TEXT NOT NULL,
	spec               BLOB NOT NULL,
	secrets            BLOB,
	provisioning_state TEXT NOT NULL,
	stopped            INTEGER NOT NULL DEFAULT 0,
	status             BLOB,
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS operations (
	id            TEXT PRIMARY KEY,
	group_key     TEXT NOT NULL,
	group_uid     TEXT NOT NULL,
	kind          TEXT NOT NULL,
	status        TEXT NOT NULL,
	subscription  TEXT NOT NULL,
	location      TEXT NOT NULL,
	start_time    INTEGER NOT NULL,
	end_time      INTEGER,
	error_code    TEXT NOT NULL DEFAULT '',
	error_message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS operations_by_status ON operations(status);
CREATE TABLE IF NOT EXISTS events (
	group_uid  TEXT NOT NULL,
	container  TEXT NOT NULL,
	name       TEXT NOT NULL,
	message    TEXT NOT NULL,
	type       TEXT NOT NULL,
	count      INTEGER NOT NULL,
	first_time INTEGER NOT NULL,
	last_time  INTEGER NOT NULL,
	PRIMARY KEY (group_uid, container, name, message)
);
CREATE TABLE IF NOT EXISTS usage (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	group_uid      TEXT NOT NULL,
	subscription   TEXT NOT NULL,
	resource_group TEXT NOT NULL,
	name           TEXT NOT NULL,
	location       TEXT NOT NULL,
	cpu            REAL NOT NULL,
	memory_gb      REAL NOT NULL,
	price_vcpu     REAL NOT NULL,
	price_gb       REAL NOT NULL,
	currency       TEXT NOT NULL,
	start_time     INTEGER NOT NULL,
	end_time       INTEGER
);
CREATE INDEX IF NOT EXISTS usage_open ON usage(group_uid) WHERE end_time IS NULL;
`

// Store is an open database.
type Store struct {
	db *sql.DB
}

// Open opens (creating when needed) the database in dir.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// WAL with synchronous=NORMAL survives a crash of this process (a SIGKILL
	// loses nothing committed); busy_timeout covers concurrent writers.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// SQLite has one writer; a single connection avoids SQLITE_BUSY churn
	// and keeps the writes of the service strictly ordered.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("prepare %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, schema); err != nil {
		return err
	}
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = s.db.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES('schema_version', ?)`, fmt.Sprint(schemaVersion))
		return err
	case err != nil:
		return err
	case v != fmt.Sprint(schemaVersion):
		return fmt.Errorf("database schema version %s, this vnode reads version %d", v, schemaVersion)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Group is a container group's persisted record.
type Group struct {
	Key               string
	UID               string
	Subscription      string
	ResourceGroup     string
	Name              string
	Location          string
	Spec              []byte // the ARM body without secrets or read-only fields
	Secrets           []byte // sealed secret values
	ProvisioningState string
	Stopped           bool
	Status            []byte // the runtime's last status, JSON
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// PutGroup inserts or replaces a group.
func (s *Store) PutGroup(ctx context.Context, g *Group) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO groups(key, uid, subscription, resource_group, name, location,
		spec, secrets, provisioning_state, stopped, status, created_at, updated_at)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(key) DO UPDATE SET uid=excluded.uid, subscription=excluded.subscription,
		resource_group=excluded.resource_group, name=excluded.name, location=excluded.location,
		spec=excluded.spec, secrets=excluded.secrets, provisioning_state=excluded.provisioning_state,
		stopped=excluded.stopped, status=excluded.status, created_at=excluded.created_at,
		updated_at=excluded.updated_at`,
		g.Key, g.UID, g.Subscription, g.ResourceGroup, g.Name, g.Location, g.Spec, g.Secrets,
		g.ProvisioningState, g.Stopped, g.Status, g.CreatedAt.UnixNano(), g.UpdatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("save group %s: %w", g.Key, err)
	}
	return nil
}

// DeleteGroup removes a group and its events.
func (s *Store) DeleteGroup(ctx context.Context, key, uid string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete group %s: %w", key, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE key = ? AND uid = ?`, key, uid); err != nil {
		return fmt.Errorf("delete group %s: %w", key, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE group_uid = ?`, uid); err != nil {
		return fmt.Errorf("delete events of group %s: %w", key, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete group %s: %w", key, err)
	}
	return nil
}

// Groups returns every group.
func (s *Store) Groups(ctx context.Context) ([]*Group, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, uid, subscription, resource_group, name, location, spec,
		secrets, provisioning_state, stopped, status, created_at, updated_at FROM groups ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer rows.Close()
	var out []*Group
	for rows.Next() {
		g := &Group{}
		var created, updated int64
		if err := rows.Scan(&g.Key, &g.UID, &g.Subscription, &g.ResourceGroup, &g.Name, &g.Location, &g.Spec,
			&g.Secrets, &g.ProvisioningState, &g.Stopped, &g.Status, &created, &updated); err != nil {
			return nil, fmt.Errorf("read group: %w", err)
		}
		g.CreatedAt, g.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
		out = append(out, g)
	}
	return out, rows.Err()
}

// Operation is an asynchronous operation's record.
type Operation struct {
	ID           string
	GroupKey     string
	GroupUID     string
	Kind         string
	Status       string
	Subscription string
	Location     string
	StartTime    time.Time
	EndTime      time.Time // zero while in progress
	ErrorCode    string
	ErrorMessage string
}

// PutOperation inserts or replaces an operation.
func (s *Store) PutOperation(ctx context.Context, op *Operation) error {
	var end any
	if !op.EndTime.IsZero() {
		end = op.EndTime.UnixNano()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO operations(id, group_key, group_uid, kind, status, subscription,
		location, start_time, end_time, error_code, error_message) VALUES(?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET status=excluded.status, end_time=excluded.end_time,
		error_code=excluded.error_code, error_message=excluded.error_message`,
		op.ID, op.GroupKey, op.GroupUID, op.Kind, op.Status, op.Subscription, op.Location,
		op.StartTime.UnixNano(), end, op.ErrorCode, op.ErrorMessage)
	if err != nil {
		return fmt.Errorf("save operation %s: %w", op.ID, err)
	}
	return nil
}

// Operation returns one operation, or sql.ErrNoRows wrapped.
func (s *Store) Operation(ctx context.Context, id string) (*Operation, error) {
	ops, err := s.operations(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("operation %s: %w", id, sql.ErrNoRows)
	}
	return ops[0], nil
}

// OperationsInProgress returns the operations that have not ended.
func (s *Store) OperationsInProgress(ctx context.Context) ([]*Operation, error) {
	return s.operations(ctx, `WHERE status = 'InProgress' ORDER BY start_time`)
}

// PruneOperations deletes ended operations older than before.
func (s *Store) PruneOperations(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM operations WHERE end_time IS NOT NULL AND end_time < ?`, before.UnixNano())
	if err != nil {
		return fmt.Errorf("prune operations: %w", err)
	}
	return nil
}

func (s *Store) operations(ctx context.Context, where string, args ...any) ([]*Operation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, group_key, group_uid, kind, status, subscription, location,
		start_time, end_time, error_code, error_message FROM operations `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read operations: %w", err)
	}
	defer rows.Close()
	var out []*Operation
	for rows.Next() {
		op := &Operation{}
		var start int64
		var end sql.NullInt64
		if err := rows.Scan(&op.ID, &op.GroupKey, &op.GroupUID, &op.Kind, &op.Status, &op.Subscription,
			&op.Location, &start, &end, &op.ErrorCode, &op.ErrorMessage); err != nil {
			return nil, fmt.Errorf("read operation: %w", err)
		}
		op.StartTime = time.Unix(0, start).UTC()
		if end.Valid {
			op.EndTime = time.Unix(0, end.Int64).UTC()
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

// Event is an aggregated event of a group (Container empty) or container.
type Event struct {
	GroupUID  string
	Container string
	Name      string
	Message   string
	Type      string
	Count     int32
	FirstTime time.Time
	LastTime  time.Time
}

// AddEvents records events, aggregating repeats of the same name and message.
func (s *Store) AddEvents(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, e := range events {
		count := e.Count
		if count < 1 {
			count = 1
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO events(group_uid, container, name, message, type, count,
			first_time, last_time) VALUES(?,?,?,?,?,?,?,?)
			ON CONFLICT(group_uid, container, name, message) DO UPDATE SET count = count + excluded.count,
			last_time = excluded.last_time, type = excluded.type`,
			e.GroupUID, e.Container, e.Name, e.Message, e.Type, count, e.FirstTime.UnixNano(), e.LastTime.UnixNano())
		if err != nil {
			return fmt.Errorf("record event %s of %s: %w", e.Name, e.GroupUID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	return nil
}

// Events returns a group's events ordered by first occurrence.
func (s *Store) Events(ctx context.Context, uid string) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT container, name, message, type, count, first_time, last_time
		FROM events WHERE group_uid = ? ORDER BY first_time, rowid`, uid)
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", uid, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e := Event{GroupUID: uid}
		var first, last int64
		if err := rows.Scan(&e.Container, &e.Name, &e.Message, &e.Type, &e.Count, &first, &last); err != nil {
			return nil, fmt.Errorf("read event: %w", err)
		}
		e.FirstTime, e.LastTime = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// SetMeta stores a small value under key.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES(?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("save %s: %w", key, err)
	}
	return nil
}

// Meta returns the value under key ("" when unset).
func (s *Store) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return v, nil
}
