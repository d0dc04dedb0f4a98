// Package deploy_test checks the container deployment files at the root of
// the repository, which no Docker engine runs here:
//
//   - docker-compose.yml loads with the compose specification's own loader
//     (compose-go) and has the production shape of docs/operations.md,
//     "Deployment with Docker Compose": a 3-node KurrentDB cluster, a 3-node
//     NATS JetStream cluster and two billing instances built from the
//     Dockerfile, wired to both;
//   - deploy/nats/billing.conf is what the NATS services run, as nats-server
//     (the version billing embeds) reads it with the compose file's flags;
//   - the Dockerfile builds a static binary and runs it as a non-root user.
package deploy_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"
)

// root is the repository root, where the deployment files are.
const root = ".."

// jwtSecret stands for the one variable the compose file requires.
const jwtSecret = "test-secret-test-secret-test-secret-0123"

// load loads docker-compose.yml as `docker compose` would, with only the
// given environment and profiles.
func load(t *testing.T, env []string, profiles ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithName("billing"),
		cli.WithEnv(env),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoad(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	p, err := load(t, []string{"BILLING_JWT_SECRET=" + jwtSecret}, profiles...)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// The services of a project by role, each list sorted by name.
type roles struct {
	kurrentdb, nats, billing []types.ServiceConfig
}

func classify(t *testing.T, services types.Services) roles {
	t.Helper()
	var r roles
	for _, s := range services {
		switch {
		case s.Build != nil:
			r.billing = append(r.billing, s)
		case strings.Contains(s.Image, "kurrentdb") || strings.Contains(s.Image, "eventstore"):
			r.kurrentdb = append(r.kurrentdb, s)
		case s.Image == "nats" || strings.HasPrefix(s.Image, "nats:"):
			r.nats = append(r.nats, s)
		default:
			t.Errorf("service %s (image %q): neither KurrentDB, NATS nor billing", s.Name, s.Image)
		}
	}
	byName := func(a, b types.ServiceConfig) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(r.kurrentdb, byName)
	slices.SortFunc(r.nats, byName)
	slices.SortFunc(r.billing, byName)
	return r
}

func names(services []types.ServiceConfig) []string {
	var out []string
	for _, s := range services {
		out = append(out, s.Name)
	}
	return out
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

// volumeAt is the named volume a service mounts at target ("" if none).
func volumeAt(t *testing.T, p *types.Project, s types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target != target {
			continue
		}
		if v.Type != types.VolumeTypeVolume {
			t.Errorf("%s: %s is a %s mount, want a named volume", s.Name, target, v.Type)
			return ""
		}
		if _, ok := p.Volumes[v.Source]; !ok {
			t.Errorf("%s: volume %q is not declared under volumes:", s.Name, v.Source)
		}
		return v.Source
	}
	return ""
}

// hosts are the host:port pairs of a comma-separated list of URLs, or of
// one URL with several hosts (esdb://a:1,b:2?tls=false).
func hosts(t *testing.T, list string) []string {
	t.Helper()
	var out []string
	for _, item := range strings.Split(list, ",") {
		if !strings.Contains(item, "://") {
			item = "x://" + item
		}
		u, err := url.Parse(item)
		if err != nil {
			t.Errorf("%q: %v", list, err)
			continue
		}
		out = append(out, u.Host)
	}
	slices.Sort(out)
	return out
}

func withPort(services []types.ServiceConfig, port string) []string {
	var out []string
	for _, s := range services {
		out = append(out, s.Name+":"+port)
	}
	slices.Sort(out)
	return out
}

func TestComposeLoadsWithTheProductionShape(t *testing.T) {
	p := mustLoad(t)
	r := classify(t, p.Services)

	if got := names(r.kurrentdb); !slices.Equal(got, []string{"kurrentdb-1", "kurrentdb-2", "kurrentdb-3"}) {
		t.Fatalf("KurrentDB services = %v, want a 3-node cluster kurrentdb-1..3", got)
	}
	if got := names(r.nats); !slices.Equal(got, []string{"nats-1", "nats-2", "nats-3"}) {
		t.Fatalf("NATS services = %v, want a 3-node cluster nats-1..3", got)
	}
	if got := names(r.billing); !slices.Equal(got, []string{"billing-1", "billing-2"}) {
		t.Fatalf("billing services by default = %v, want billing-1 and billing-2", got)
	}

	t.Run("kurrentdb", func(t *testing.T) {
		seen := map[string]string{}
		for _, s := range r.kurrentdb {
			if env(s, "KURRENTDB_CLUSTER_SIZE") != "3" {
				t.Errorf("%s: KURRENTDB_CLUSTER_SIZE = %q, want 3", s.Name, env(s, "KURRENTDB_CLUSTER_SIZE"))
			}
			if env(s, "KURRENTDB_DISCOVER_VIA_DNS") != "false" {
				t.Errorf("%s: KURRENTDB_DISCOVER_VIA_DNS = %q, want false (gossip seeds)", s.Name, env(s, "KURRENTDB_DISCOVER_VIA_DNS"))
			}
			var others []types.ServiceConfig
			for _, o := range r.kurrentdb {
				if o.Name != s.Name {
					others = append(others, o)
				}
			}
			if got, want := hosts(t, env(s, "KURRENTDB_GOSSIP_SEED")), withPort(others, "2113"); !slices.Equal(got, want) {
				t.Errorf("%s: KURRENTDB_GOSSIP_SEED hosts = %v, want the other nodes %v", s.Name, got, want)
			}
			for _, v := range []string{"KURRENTDB_NODE_HOST_ADVERTISE_AS", "KURRENTDB_REPLICATION_HOST_ADVERTISE_AS"} {
				if env(s, v) != s.Name {
					t.Errorf("%s: %s = %q, want its own service name", s.Name, v, env(s, v))
				}
			}
			if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
				t.Errorf("%s: no healthcheck (billing waits for service_healthy)", s.Name)
			}
			data := volumeAt(t, p, s, "/var/lib/kurrentdb")
			if data == "" {
				t.Errorf("%s: no named volume at /var/lib/kurrentdb", s.Name)
			} else if other, dup := seen[data]; dup {
				t.Errorf("%s and %s share the data volume %s", s.Name, other, data)
			}
			seen[data] = s.Name
		}
	})

	t.Run("nats", func(t *testing.T) {
		seen := map[string]string{}
		for _, s := range r.nats {
			tag := s.Image[strings.LastIndex(s.Image, ":")+1:]
			if m := regexp.MustCompile(`^2\.(\d+)`).FindStringSubmatch(tag); m == nil {
				t.Errorf("%s: image %q: want a pinned nats:2.x tag", s.Name, s.Image)
			} else if minor, _ := strconv.Atoi(m[1]); minor < 11 {
				t.Errorf("%s: image %q: want NATS 2.11 or newer", s.Name, s.Image)
			}
			if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
				t.Errorf("%s: no healthcheck (billing waits for service_healthy)", s.Name)
			}
			data := volumeAt(t, p, s, "/data")
			if data == "" {
				t.Errorf("%s: no named volume at /data (JetStream storage)", s.Name)
			} else if other, dup := seen[data]; dup {
				t.Errorf("%s and %s share the JetStream volume %s", s.Name, other, data)
			}
			seen[data] = s.Name
		}
	})

	t.Run("billing", func(t *testing.T) {
		dataVolumes := map[string]string{}
		published := map[string]string{}
		var sandbox []string
		for _, s := range r.billing {
			checkBillingService(t, p, s, r)

			// the target shape: the KurrentDB cluster as the event store
			u := env(s, "BILLING_EVENTSTORE_URL")
			if !strings.HasPrefix(u, "esdb://") && !strings.HasPrefix(u, "kurrentdb://") {
				t.Errorf("%s: BILLING_EVENTSTORE_URL = %q, want esdb:// or kurrentdb://", s.Name, u)
			} else if got, want := hosts(t, strings.SplitN(u, "?", 2)[0]), withPort(r.kurrentdb, "2113"); !slices.Equal(got, want) {
				t.Errorf("%s: BILLING_EVENTSTORE_URL hosts = %v, want every KurrentDB node %v", s.Name, got, want)
			}
			for _, k := range r.kurrentdb {
				if d, ok := s.DependsOn[k.Name]; !ok || d.Condition != types.ServiceConditionHealthy {
					t.Errorf("%s: want depends_on %s with condition service_healthy", s.Name, k.Name)
				}
			}

			data := volumeAt(t, p, s, "/data")
			if other, dup := dataVolumes[data]; dup {
				t.Errorf("%s and %s share the data volume %s: read models and reconciler checkpoints are per instance", s.Name, other, data)
			}
			dataVolumes[data] = s.Name

			// the sandbox's state: one file on a volume both mount
			sp := env(s, "BILLING_SANDBOX_PATH")
			dir := filepath.Dir(sp)
			shared := volumeAt(t, p, s, dir)
			if sp == "" || shared == "" || shared == data {
				t.Errorf("%s: BILLING_SANDBOX_PATH = %q, want a file on a volume shared by the instances", s.Name, sp)
			}
			sandbox = append(sandbox, shared+":"+sp)

			for _, port := range s.Ports {
				if other, dup := published[port.Published]; dup {
					t.Errorf("%s and %s both publish host port %s", s.Name, other, port.Published)
				}
				published[port.Published] = s.Name
			}
		}
		if len(sandbox) == 2 && sandbox[0] != sandbox[1] {
			t.Errorf("the sandbox state is not shared: %v", sandbox)
		}
		for _, port := range []string{"8081", "8082"} {
			if published[port] == "" {
				t.Errorf("no billing instance on host port %s", port)
			}
		}
	})
}

// checkBillingService checks what every billing service has, whatever its
// event store.
func checkBillingService(t *testing.T, p *types.Project, s types.ServiceConfig, r roles) {
	if hc := s.HealthCheck; hc == nil || strings.Join(hc.Test, " ") != "CMD /billing health" {
		t.Errorf("%s: healthcheck %v, want the binary probing itself (CMD /billing health)", s.Name, hc)
	}
	t.Helper()
	if filepath.Clean(s.Build.Context) != filepath.Clean(p.WorkingDir) {
		t.Errorf("%s: build context %q, want the repository root %q", s.Name, s.Build.Context, p.WorkingDir)
	}
	if s.Build.Dockerfile != "Dockerfile" {
		t.Errorf("%s: dockerfile %q, want Dockerfile", s.Name, s.Build.Dockerfile)
	}
	if env(s, "BILLING_JWT_SECRET") != jwtSecret {
		t.Errorf("%s: BILLING_JWT_SECRET = %q, want the shared ${BILLING_JWT_SECRET}", s.Name, env(s, "BILLING_JWT_SECRET"))
	}
	if env(s, "BILLING_DATA_DIR") != "/data" || volumeAt(t, p, s, "/data") == "" {
		t.Errorf("%s: want BILLING_DATA_DIR=/data on a named volume (got %q)", s.Name, env(s, "BILLING_DATA_DIR"))
	}
	if got, want := hosts(t, env(s, "BILLING_NATS_URL")), withPort(r.nats, "4222"); !slices.Equal(got, want) {
		t.Errorf("%s: BILLING_NATS_URL hosts = %v, want every NATS node %v", s.Name, got, want)
	}
	if env(s, "BILLING_NATS_REPLICAS") != "3" {
		t.Errorf("%s: BILLING_NATS_REPLICAS = %q, want 3", s.Name, env(s, "BILLING_NATS_REPLICAS"))
	}
	if !strings.HasPrefix(env(s, "BILLING_PUBLIC_URL"), "http") {
		t.Errorf("%s: BILLING_PUBLIC_URL = %q", s.Name, env(s, "BILLING_PUBLIC_URL"))
	}
	for _, n := range r.nats {
		if d, ok := s.DependsOn[n.Name]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s: want depends_on %s with condition service_healthy", s.Name, n.Name)
		}
	}
	addr := env(s, "BILLING_HTTP_ADDR")
	_, port, _ := strings.Cut(addr, ":")
	if !strings.HasPrefix(addr, "0.0.0.0:") {
		t.Errorf("%s: BILLING_HTTP_ADDR = %q, want 0.0.0.0:PORT (reachable from outside the container)", s.Name, addr)
	}
	if len(s.Ports) != 1 || strconv.Itoa(int(s.Ports[0].Target)) != port {
		t.Errorf("%s: ports %+v, want one published port to container port %s", s.Name, s.Ports, port)
	}
}

// The caveat's way out: one instance on the embedded store, in a profile.
func TestComposeEmbeddedProfile(t *testing.T) {
	p := mustLoad(t)
	if _, ok := p.DisabledServices["billing-embedded"]; !ok {
		t.Fatalf("billing-embedded should only run with --profile embedded; services: %v", p.ServiceNames())
	}

	p = mustLoad(t, "embedded")
	r := classify(t, p.Services)
	s, err := p.GetService("billing-embedded")
	if err != nil {
		t.Fatal(err)
	}
	checkBillingService(t, p, s, r)
	if u := env(s, "BILLING_EVENTSTORE_URL"); u != "" {
		t.Errorf("billing-embedded: BILLING_EVENTSTORE_URL = %q, want it unset (the embedded store in /data)", u)
	}
	data := volumeAt(t, p, s, "/data")
	for _, b := range r.billing {
		if b.Name != s.Name && volumeAt(t, p, b, "/data") == data {
			t.Errorf("billing-embedded shares its data volume %s with %s", data, b.Name)
		}
	}
	for name := range s.DependsOn {
		if strings.HasPrefix(name, "kurrentdb") {
			t.Errorf("billing-embedded depends on %s, which it does not use", name)
		}
	}
}

func TestComposeRequiresTheJWTSecret(t *testing.T) {
	_, err := load(t, nil)
	if err == nil || !strings.Contains(err.Error(), "BILLING_JWT_SECRET") {
		t.Fatalf("loading without BILLING_JWT_SECRET: err = %v, want one naming BILLING_JWT_SECRET", err)
	}
}

// TestNATSConfig reads each NATS service's command line and config file as
// nats-server reads them, with the file the compose file mounts.
func TestNATSConfig(t *testing.T) {
	p := mustLoad(t)
	r := classify(t, p.Services)
	for _, s := range r.nats {
		args := slices.Clone([]string(s.Command))
		if len(args) > 0 && args[0] == "nats-server" {
			args = args[1:]
		}
		// the config file: the host file bind-mounted where --config points
		for i, a := range args {
			if (a == "--config" || a == "-c") && i+1 < len(args) {
				found := false
				for _, v := range s.Volumes {
					if v.Type == types.VolumeTypeBind && v.Target == args[i+1] {
						args[i+1], found = v.Source, true
					}
				}
				if !found {
					t.Fatalf("%s: --config %s is not a file the service mounts", s.Name, args[i+1])
				}
			}
		}
		fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
		opts, err := server.ConfigureOptions(fs, args, func() {}, func() {}, func() {})
		if err != nil {
			t.Fatalf("%s: nats-server %v: %v", s.Name, args, err)
		}
		if opts.ConfigFile == "" {
			t.Errorf("%s: runs without a config file", s.Name)
		}
		if opts.ServerName != s.Name {
			t.Errorf("%s: server name %q, want the service name", s.Name, opts.ServerName)
		}
		if !opts.JetStream {
			t.Errorf("%s: JetStream is off", s.Name)
		}
		if opts.StoreDir == "" || volumeAt(t, p, s, opts.StoreDir) == "" {
			t.Errorf("%s: JetStream store_dir %q is not on a named volume", s.Name, opts.StoreDir)
		}
		if opts.Port != 4222 {
			t.Errorf("%s: client port %d, want 4222 (BILLING_NATS_URL)", s.Name, opts.Port)
		}
		if opts.HTTPPort != 8222 || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), ":8222/healthz") {
			t.Errorf("%s: monitoring port %d, healthcheck %v: want the healthcheck on the monitoring port's /healthz", s.Name, opts.HTTPPort, s.HealthCheck.Test)
		}
		if opts.Cluster.Name == "" || opts.Cluster.Port == 0 {
			t.Errorf("%s: no cluster name or port", s.Name)
		}
		var routes []string
		for _, u := range opts.Routes {
			routes = append(routes, u.Host)
		}
		slices.Sort(routes)
		if want := withPort(r.nats, strconv.Itoa(opts.Cluster.Port)); !slices.Equal(routes, want) {
			t.Errorf("%s: routes %v, want every node %v", s.Name, routes, want)
		}
	}
}

// stage is one FROM of a Dockerfile and the instructions under it.
type stage struct {
	from, name   string
	instructions [][2]string // keyword (upper case), rest of the line
}

func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages []stage
		line   string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if line == "" && (text == "" || strings.HasPrefix(text, "#")) {
			continue
		}
		if strings.HasSuffix(text, "\\") {
			line += strings.TrimSuffix(text, "\\") + " "
			continue
		}
		line += text
		keyword, rest, _ := strings.Cut(line, " ")
		keyword, rest, line = strings.ToUpper(keyword), strings.TrimSpace(rest), ""
		if keyword == "FROM" {
			fields := strings.Fields(rest)
			st := stage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			continue // ARG before the first FROM
		}
		last := &stages[len(stages)-1]
		last.instructions = append(last.instructions, [2]string{keyword, rest})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

func (s stage) all(keyword string) []string {
	var out []string
	for _, in := range s.instructions {
		if in[0] == keyword {
			out = append(out, in[1])
		}
	}
	return out
}

func (s stage) last(keyword string) string {
	all := s.all(keyword)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	t.Run("build stage", func(t *testing.T) {
		gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
		if m == nil {
			t.Fatal("go.mod has no go line")
		}
		if want := "golang:" + string(m[1]); build.from != want && !strings.HasPrefix(build.from, want+"-") && !strings.HasPrefix(build.from, want+".") {
			t.Errorf("build stage FROM %s, want %s (go.mod's version)", build.from, want)
		}
		var cgoOff, built bool
		for _, e := range build.all("ENV") {
			cgoOff = cgoOff || regexp.MustCompile(`\bCGO_ENABLED[= ]0\b`).MatchString(e)
		}
		for _, run := range build.all("RUN") {
			if !strings.Contains(run, "go build") {
				continue
			}
			built = true
			cgoOff = cgoOff || strings.Contains(run, "CGO_ENABLED=0 ")
			for _, flag := range []string{"-trimpath", "./cmd/billing"} {
				if !strings.Contains(run, flag) {
					t.Errorf("go build without %s: %s", flag, run)
				}
			}
			if !regexp.MustCompile(`-ldflags[= ]["']?-s -w`).MatchString(run) {
				t.Errorf(`go build without -ldflags="-s -w": %s`, run)
			}
		}
		if !built {
			t.Error("the build stage runs no go build")
		}
		if !cgoOff {
			t.Error("the build stage does not set CGO_ENABLED=0 (a static binary)")
		}
	})

	t.Run("final stage", func(t *testing.T) {
		user := final.last("USER")
		name, _, _ := strings.Cut(user, ":")
		switch {
		case user == "" && !strings.Contains(final.from, "nonroot"):
			t.Errorf("final stage FROM %s sets no USER: it runs as root", final.from)
		case name == "root" || name == "0":
			t.Errorf("final stage runs as USER %s", user)
		}
		for _, stage := range stages {
			if stage.name != "" && strings.EqualFold(final.from, stage.name) {
				t.Errorf("final stage builds FROM the stage %s, want a minimal image", stage.name)
			}
		}
		checks := []struct{ keyword, want string }{
			{"ENTRYPOINT", `["/billing"]`},
			{"CMD", `["serve"]`},
			{"EXPOSE", "8080"},
		}
		for _, c := range checks {
			if got := strings.ReplaceAll(final.last(c.keyword), `", "`, `","`); got != c.want {
				t.Errorf("%s %s, want %s", c.keyword, got, c.want)
			}
		}
		envs := strings.Join(final.all("ENV"), " ")
		for _, want := range []string{"BILLING_DATA_DIR=/data", "BILLING_HTTP_ADDR=0.0.0.0:8080"} {
			if !strings.Contains(envs, want) {
				t.Errorf("final stage ENV lacks %s", want)
			}
		}
		if !slices.ContainsFunc(final.all("VOLUME"), func(v string) bool { return strings.Contains(v, "/data") }) {
			t.Error("final stage declares no VOLUME /data")
		}
	})
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, want := range []string{".git", "data/", "*.test", "/billing"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore does not exclude %s (patterns: %s)", want, fmt.Sprint(patterns))
		}
	}
}
