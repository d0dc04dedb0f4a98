package relay

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is an embedded nats-server with JetStream on file storage: what
// serve runs when no external NATS is configured.
type Server struct {
	ns *server.Server
}

// StartServer starts nats-server listening on listen (host:port; port 0
// picks a free one) with JetStream storing under storeDir, and returns once
// it accepts connections.
func StartServer(listen, storeDir string) (*Server, error) {
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("nats listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("nats listen address %q: %w", listen, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	} else if err := CheckListen(listen); err != nil {
		return nil, err
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "billing-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true, // serve owns the process's signals
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("start nats-server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats-server on %s did not become ready", listen)
	}
	return &Server{ns: ns}, nil
}

// CheckListen reports, at once, that the embedded server could not listen
// on listen (a port in use): nats-server would retry it quietly and only
// say "not ready" after a long wait.
func CheckListen(listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("nats-server cannot listen on %s (BILLING_NATS_LISTEN; port 0 picks a free one): %w", listen, err)
	}
	return ln.Close()
}

// ClientURL is where clients connect (nats://host:port).
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
