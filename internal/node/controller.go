package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Controller keeps one virtual node registered, leased and up to date.
type Controller struct {
	cfg ControllerConfig
	// log is cfg.Logger with the node's name.
	log *slog.Logger
}

// NewController validates cfg and fills its defaults.
func NewController(cfg ControllerConfig) (*Controller, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Controller{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName)}, nil
}

// NodeName returns the name of the node.
func (c *Controller) NodeName() string { return c.cfg.NodeName }

// Config returns the controller's configuration with its defaults filled
// in; its Client, Provider, Clock and Logger are the controller's.
func (c *Controller) Config() ControllerConfig { return c.cfg }

// Register creates or updates the Node and writes its first status and
// lease; call it before Run so that pods can be scheduled at once. Like
// the kubelet, it keeps trying while the API server cannot be reached or
// refuses, with a back-off from RetryInterval up to 30 s, and gives up
// only when ctx ends.
func (c *Controller) Register(ctx context.Context) error {
	delay := c.cfg.RetryInterval
	for {
		err := c.registerOnce(ctx)
		if err == nil {
			return nil
		}
		c.log.Warn("node registration failed; retrying", "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("register node %s: %w (last error: %v)", c.cfg.NodeName, ctx.Err(), err)
		case <-c.cfg.Clock.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

func (c *Controller) registerOnce(ctx context.Context) error {
	if err := c.register(ctx); err != nil {
		return err
	}
	if err := c.updateStatus(ctx, c.observe(ctx)); err != nil {
		return err
	}
	return c.renewLease(ctx)
}

// Run renews the lease every RenewInterval, checks the backend every
// HealthInterval and writes the status at once when what it observes
// changes, and at least every StatusInterval. Errors are logged and
// retried at the next tick. It returns when ctx ends.
func (c *Controller) Run(ctx context.Context) {
	renew := c.cfg.Clock.NewTicker(c.cfg.RenewInterval)
	defer renew.Stop()
	health := c.cfg.Clock.NewTicker(c.cfg.HealthInterval)
	defer health.Stop()
	last := c.observe(ctx)
	lastWrite := c.cfg.Clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C():
			if err := c.renewLease(ctx); err != nil {
				c.log.Warn("lease renewal failed", "err", err)
			}
		case <-health.C():
			o := c.observe(ctx)
			if o.equal(last) && c.cfg.Clock.Since(lastWrite) < c.cfg.StatusInterval-time.Second {
				continue
			}
			if (o.healthErr == nil) != (last.healthErr == nil) {
				c.log.Info("backend health changed", "healthy", o.healthErr == nil, "err", o.healthErr)
			}
			if err := c.updateStatus(ctx, o); err != nil {
				c.log.Warn("node status update failed", "err", err)
				continue
			}
			last, lastWrite = o, c.cfg.Clock.Now()
		}
	}
}
