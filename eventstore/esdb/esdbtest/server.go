package esdbtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// MaxAppendSize is EventStoreDB's default limit on one append's payload.
const MaxAppendSize = 1 << 20

// version is what ServerFeatures reports: the KurrentDB LTS the compose file
// deploys.
const version = "26.0.3"

// Server is a running stand-in. Its methods are safe for concurrent use.
type Server struct {
	store eventstore.Store
	opts  options
	addr  string
	id    uuid.UUID

	mu   sync.Mutex
	grpc *grpc.Server // nil while stopped
	done chan struct{}
}

// Option changes how the server answers.
type Option func(*options)

type options struct {
	retriesWithoutPosition bool
	leader                 *Server // set on a follower
}

// FollowerOf makes the server a follower of leader: it refuses every
// request that requires the leader with EventStoreDB's "not leader"
// answer, naming leader's address, and serves the rest from its own store
// (which, unlike a real follower's, is not a replica: a client served
// there shows it).
func FollowerOf(leader *Server) Option {
	return func(o *options) { o.leader = leader }
}

// RetriesWithoutPosition answers a recognised retry without a position, as
// EventStoreDB does when the original is not yet replicated, and as
// servers before 20.x always did.
func RetriesWithoutPosition() Option {
	return func(o *options) { o.retriesWithoutPosition = true }
}

// Start serves store on a free loopback port. The store stays the caller's
// to close, after the server.
func Start(ctx context.Context, store eventstore.Store, opts ...Option) (*Server, error) {
	if err := seedSystemEvents(ctx, store); err != nil {
		return nil, err
	}
	s := &Server{store: store, id: uuid.New()}
	for _, o := range opts {
		o(&s.opts)
	}
	if err := s.listenOutsideEphemeral(); err != nil {
		return nil, err
	}
	return s, nil
}

// listenOutsideEphemeral listens on a free loopback port below the
// kernel's ephemeral range, where it falls back to a port of that range
// when it finds none. A port of the range can be handed to another
// listener or outgoing connection while the server is stopped, and
// Restart could then not have it back; one below it is only taken by name.
func (s *Server) listenOutsideEphemeral() error {
	low := ephemeralLow()
	const from = 10000
	for range 20 {
		if low <= from {
			break
		}
		port := from + rand.IntN(low-from)
		if err := s.listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			return nil
		}
	}
	return s.listen("127.0.0.1:0")
}

// ephemeralLow is the first port of the kernel's ephemeral range, from
// Linux's ip_local_port_range; 0 where it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil {
		return 0
	}
	return low
}

// Addr is the host:port the server listens on; it survives Restart.
func (s *Server) Addr() string { return s.addr }

// URL is the connection string for the server, in EventStoreDB's format.
func (s *Server) URL() string { return "esdb://" + s.addr + "?tls=false" }

func (s *Server) listen(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("esdbtest: listen: %w", err)
	}
	g := grpc.NewServer(grpc.MaxRecvMsgSize(4*MaxAppendSize), grpc.StreamInterceptor(s.notLeader))
	streams.RegisterStreamsServer(g, &streamsServer{store: s.store, opts: s.opts})
	serverfeatures.RegisterServerFeaturesServer(g, features{})
	gossip.RegisterGossipServer(g, &gossipServer{s: s})
	done := make(chan struct{})
	s.mu.Lock()
	s.addr, s.grpc, s.done = lis.Addr().String(), g, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = g.Serve(lis) // returns when stopped
	}()
	return nil
}

// notLeader answers a follower's requests that require the leader as
// EventStoreDB does: NotFound, with the leader's address in the trailers,
// which the client follows.
func (s *Server) notLeader(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	leader := s.opts.leader
	md, _ := metadata.FromIncomingContext(ss.Context())
	if leader == nil || len(md.Get("requires-leader")) == 0 || md.Get("requires-leader")[0] != "true" {
		return handler(srv, ss)
	}
	host, port, err := net.SplitHostPort(leader.Addr())
	if err != nil {
		return err
	}
	ss.SetTrailer(metadata.Pairs("exception", "not-leader", "leader-endpoint-host", host, "leader-endpoint-port", port))
	return status.Error(codes.NotFound, "Leader info available")
}

// Stop stops serving at once, as a crashed node would: connections close
// and subscriptions drop. The log is kept; Restart serves it again.
func (s *Server) Stop() {
	s.mu.Lock()
	g, done := s.grpc, s.done
	s.grpc = nil
	s.mu.Unlock()
	if g != nil {
		g.Stop()
		<-done
	}
}

// Restart serves again on the same address after Stop.
func (s *Server) Restart() error {
	s.mu.Lock()
	running := s.grpc != nil
	s.mu.Unlock()
	if running {
		return errors.New("esdbtest: restart: server is running")
	}
	// Go listeners set SO_REUSEADDR, so the port is free again at once
	// unless another process took it by name in between (see
	// listenOutsideEphemeral).
	return s.listen(s.addr)
}

// Close stops the server for good.
func (s *Server) Close() error {
	s.Stop()
	return nil
}

// seedSystemEvents gives an empty log the kind of events a fresh
// EventStoreDB node writes before any client's, so that every reader has to
// skip them.
func seedSystemEvents(ctx context.Context, store eventstore.Store) error {
	if head, err := store.Head(ctx); err != nil || head != eventstore.Start {
		return err
	}
	seed := []struct{ stream, typ string }{
		{"$users", "$User"},
		{"$$$scavenges", "$metadata"},
		{"$settings", "$settings"},
	}
	for _, e := range seed {
		_, err := store.Append(ctx, e.stream, eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: e.typ, Data: []byte(`{}`)})
		if err != nil {
			return fmt.Errorf("esdbtest: seed system events: %w", err)
		}
	}
	return nil
}

type features struct {
	serverfeatures.UnimplementedServerFeaturesServer
}

func (features) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	const svc = "event_store.client.streams.streams"
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: version,
		Methods: []*serverfeatures.SupportedMethod{
			{ServiceName: svc, MethodName: "read"},
			{ServiceName: svc, MethodName: "append"},
		},
	}, nil
}

// gossipServer answers cluster discovery: a cluster of one, the leader.
type gossipServer struct {
	gossip.UnimplementedGossipServer
	s *Server
}

func (g *gossipServer) Read(context.Context, *shared.Empty) (*gossip.ClusterInfo, error) {
	host, port, err := net.SplitHostPort(g.s.Addr())
	if err != nil {
		return nil, err
	}
	p, err := strconv.ParseUint(port, 10, 32)
	if err != nil {
		return nil, err
	}
	return &gossip.ClusterInfo{Members: []*gossip.MemberInfo{{
		InstanceId: protoUUID(g.s.id, true),
		TimeStamp:  time.Now().UnixNano() / 100,
		State:      gossip.MemberInfo_Leader,
		IsAlive:    true,
		HttpEndPoint: &gossip.EndPoint{
			Address: host,
			Port:    uint32(p),
		},
	}}}, nil
}
