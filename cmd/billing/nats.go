package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/robotlabor/billing/relay"
)

// openNATS connects to the configured NATS, or starts nats-server
// embedded (JetStream stored in the data dir), and prepares the relay.
func (m *Main) openNATS(context.Context) error {
	url := m.Config.NATS.URL
	if url == "" {
		srv, err := relay.StartServer(m.Config.NATS.Listen, m.Config.path("nats"))
		if err != nil {
			return err
		}
		m.natsServer = srv
		url = srv.ClientURL()
		m.Logger.Info("nats-server embedded", "url", url)
	}
	opts := []nats.Option{
		nats.Name("billing"),
		nats.MaxReconnects(-1), // the relay resumes whenever NATS is back
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return // a clean close (serve stopping): nothing to warn about
			}
			m.Logger.Warn("nats disconnected", "error", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { m.Logger.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	}
	if c := m.Config.NATS; c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c := m.Config.NATS; c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c := m.Config.NATS; c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	m.nats = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		return err
	}
	m.Relay, err = relay.New(relay.Config{Store: m.Store, JetStream: js, Replicas: m.Config.NATS.Replicas, Logger: m.Logger})
	if err != nil {
		return err
	}
	m.Metrics.WatchLag("relay", m.Store, m.Relay)
	return nil
}

// natsReady: the connection is up and the relay reached the stream.
func (m *Main) natsReady() error {
	if !m.nats.IsConnected() {
		return fmt.Errorf("nats: not connected (%s)", m.nats.Status())
	}
	if !m.Relay.Healthy() {
		return fmt.Errorf("nats: the relay has not reached the BILLING stream yet")
	}
	return nil
}
