// Package instances implements `vnode instances`: serving the container
// instances service and reporting its metered usage.
package instances

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnode-io/vnode/internal/instances/app"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/internal/wire"
)

// NewCommand returns the instances command.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "instances",
		Short: "The container instances service: an Azure Container Instances-compatible API",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newServeCommand(), newUsageCommand(), newRemoveGroupsCommand())
	return cmd
}

func newRemoveGroupsCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "remove-groups --config FILE",
		Short: "End every container group a stopped service's containerd still runs",
		Long: `The service leaves its container groups running when it stops, so that its
next start re-attaches to them. remove-groups tears them down for good: it
starts the stopped service's containerd, stops and removes every pod sandbox
(containers, IPs, network namespaces, mounts), stops containerd again and
deletes the groups' bridge. The service's records stay; its next start reports
those groups as lost. vnode down does this for the local cluster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			return app.RemoveGroups(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "the service's configuration file")
	return cmd
}

// loadConfig reads the service configuration named by --config.
func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Config{}, fmt.Errorf("--config is required")
	}
	return config.Load(path)
}

func newServeCommand() *cobra.Command {
	var configPath string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Serve the container instances API over HTTPS until interrupted",
		Long: `Serve Azure Container Instances' ARM REST API (api-version ` + wire.APIVersion + ` and
later versions of the same shape) over HTTPS with bearer-token authentication.
The configuration file (YAML or JSON) names the data directory, tokens file,
locations with their capabilities, quotas and prices, and the rate limits; see
docs/configuration.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			return serve(cmd.Context(), cfg, log)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log at debug level")
	return cmd
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	inst, err := app.Start(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		return err
	}
	err = inst.Wait(ctx)
	if cerr := inst.Close(); err == nil && cerr != nil && cerr != http.ErrServerClosed {
		err = cerr
	}
	log.Info("container instances service stopped")
	return err
}

type usageFlags struct {
	clientDir     string
	stateDir      string
	subscription  string
	by            string
	resourceGroup string
	location      string
	name          string
	from, to      string
	output        string
}

func newUsageCommand() *cobra.Command {
	f := &usageFlags{}
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Report metered usage: vCPU-seconds, GB-seconds and cost",
		Long: `Report the usage the container instances service metered: per second of
requested vCPU and memory (GB), from each group's start until it stops or is
deleted, priced per location.

--from and --to take RFC 3339 times or durations before now (1h, 30m); the
default window is everything up to now. --by groups rows by group (the
default), resource-group, location or none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usage(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fs := cmd.Flags()
	defaultState, _ := localcluster.DefaultStateDir()
	fs.StringVar(&f.stateDir, "state-dir", defaultState, "local cluster state directory; its instances/ holds the client files")
	fs.StringVar(&f.clientDir, "client-dir", "", "directory with endpoint, token, ca.crt and subscription (default STATE_DIR/instances)")
	fs.StringVar(&f.subscription, "subscription", "", "subscription (default: the client directory's)")
	fs.StringVar(&f.by, "by", "group", "rows by: group, resource-group, location or none")
	fs.StringVar(&f.resourceGroup, "resource-group", "", "only this resource group")
	fs.StringVar(&f.location, "location", "", "only this location")
	fs.StringVar(&f.name, "name", "", "only container groups with this name")
	fs.StringVar(&f.from, "from", "", "window start: RFC 3339 time or a duration before now")
	fs.StringVar(&f.to, "to", "", "window end: RFC 3339 time or a duration before now (default now)")
	fs.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	return cmd
}

func usage(ctx context.Context, out io.Writer, f *usageFlags) error {
	dir := f.clientDir
	if dir == "" {
		if f.stateDir == "" {
			return fmt.Errorf("no client directory: pass --client-dir or --state-dir")
		}
		dir = filepath.Join(f.stateDir, "instances")
	}
	files, err := wire.LoadClientFiles(dir)
	if err != nil {
		return err
	}
	if f.subscription != "" {
		files.Subscription = f.subscription
	}
	q := url.Values{"api-version": {wire.APIVersion}}
	groupBy, err := groupByParam(f.by)
	if err != nil {
		return err
	}
	if groupBy != "" {
		q.Set("groupBy", groupBy)
	}
	for k, v := range map[string]string{"resourceGroup": f.resourceGroup, "location": f.location, "name": f.name} {
		if v != "" {
			q.Set(k, v)
		}
	}
	now := time.Now()
	for k, v := range map[string]string{"from": f.from, "to": f.to} {
		if v == "" {
			continue
		}
		t, err := parseWhen(v, now)
		if err != nil {
			return fmt.Errorf("--%s: %w", k, err)
		}
		q.Set(k, t.UTC().Format(time.RFC3339))
	}
	res, err := fetchUsage(ctx, files, q)
	if err != nil {
		return err
	}
	if f.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if f.output != "table" {
		return fmt.Errorf("--output %q: use table or json", f.output)
	}
	return printTable(out, f.by, res)
}

func groupByParam(by string) (string, error) {
	switch by {
	case "group":
		return "resourceGroup,location,name", nil
	case "resource-group":
		return "resourceGroup", nil
	case "location":
		return "location", nil
	case "none":
		return "", nil
	}
	return "", fmt.Errorf("--by %q: use group, resource-group, location or none", by)
}

func parseWhen(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration", v)
	}
	return t, nil
}

func fetchUsage(ctx context.Context, files wire.ClientFiles, q url.Values) (*wire.MeteredUsage, error) {
	hc, err := files.HTTPClient()
	if err != nil {
		return nil, err
	}
	u := strings.TrimRight(files.Endpoint, "/") + "/subscriptions/" + url.PathEscape(files.Subscription) +
		"/providers/Microsoft.ContainerInstance/meteredUsage?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+files.Token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach the container instances service at %s: %w", files.Endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
			return nil, fmt.Errorf("usage: %s: %s", e.Error.Code, e.Error.Message)
		}
		return nil, fmt.Errorf("usage: HTTP %d", resp.StatusCode)
	}
	var res wire.MeteredUsage
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("decode usage: %w", err)
	}
	return &res, nil
}

func printTable(out io.Writer, by string, res *wire.MeteredUsage) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	head := map[string]string{"group": "RESOURCE GROUP\tLOCATION\tNAME\t", "resource-group": "RESOURCE GROUP\t",
		"location": "LOCATION\t", "none": ""}[by]
	fmt.Fprintf(tw, "%sSECONDS\tVCPU-SECONDS\tGB-SECONDS\tCOST\n", head)
	for _, r := range res.Value {
		var dims string
		switch by {
		case "group":
			dims = r.ResourceGroup + "\t" + r.Location + "\t" + r.Name + "\t"
		case "resource-group":
			dims = r.ResourceGroup + "\t"
		case "location":
			dims = r.Location + "\t"
		}
		fmt.Fprintf(tw, "%s%d\t%.0f\t%.1f\t%.6f %s\n", dims, r.Seconds, r.VCPUSeconds, r.GBSeconds, r.Cost, r.Currency)
	}
	fmt.Fprintf(tw, "# window %s .. %s\n", res.From.Format(time.RFC3339), res.To.Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Value) == 0 {
		_, err := fmt.Fprintln(os.Stderr, "no metered usage in this window")
		return err
	}
	return nil
}
