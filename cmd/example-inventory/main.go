// Command example-inventory is a small service guarded by Gaia IAM through
// the Go SDK alone: GET /items needs inventory.read, POST /items needs
// inventory.write. It never calls the IAM per request.
//
// Environment: IAM_URL (the IAM's base URL, default http://127.0.0.1:8080),
// EXAMPLE_HTTP_ADDR (default 127.0.0.1:8081), EXAMPLE_POLL_INTERVAL (a Go
// duration, default 10s), EXAMPLE_CACHE_DIR (optional: keep the last bundle
// on disk).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(ctx, os.Getenv, log, nil); err != nil {
		fmt.Fprintln(os.Stderr, "example-inventory: "+err.Error())
		os.Exit(1)
	}
}

// run serves until ctx ends. When listening is non-nil it receives the
// bound address once the server accepts connections.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger, listening chan<- string) error {
	iamURL := envOr(getenv, "IAM_URL", "http://127.0.0.1:8080")
	addr := envOr(getenv, "EXAMPLE_HTTP_ADDR", "127.0.0.1:8081")
	poll, err := time.ParseDuration(envOr(getenv, "EXAMPLE_POLL_INTERVAL", "10s"))
	if err != nil {
		return errors.New("EXAMPLE_POLL_INTERVAL is not a Go duration such as 10s")
	}
	authz, err := sdk.New(ctx, sdk.Config{IAMURL: iamURL, PollInterval: poll, CacheDir: getenv("EXAMPLE_CACHE_DIR"), Logger: log})
	if err != nil {
		return err
	}
	defer authz.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("EXAMPLE_HTTP_ADDR: %w", err)
	}
	srv := &http.Server{Handler: routes(authz, &inventory{}), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("example-inventory listening", "addr", ln.Addr().String(), "iam", iamURL)
	if listening != nil {
		listening <- ln.Addr().String()
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func routes(authz *sdk.Authorizer, inv *inventory) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/healthz", func(c *gin.Context) {
		if !authz.Ready() {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "not_ready", "message": "no policy bundle loaded yet"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/items", authz.Require("inventory.read"), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"items": inv.list()})
	})
	r.POST("/items", authz.Require("inventory.write"), func(c *gin.Context) {
		var it item
		if err := c.ShouldBindJSON(&it); err != nil || it.Name == "" {
			c.JSON(http.StatusBadRequest, gin.H{"error": "invalid_request", "message": `body must be {"name": "...", "quantity": n}`})
			return
		}
		it.AddedBy = sdk.PrincipalFrom(c.Request.Context()).Username
		c.JSON(http.StatusCreated, inv.add(it))
	})
	return r
}

type item struct {
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	AddedBy  string `json:"added_by"`
}

// inventory is the example's whole business logic: a list in memory.
type inventory struct {
	mu    sync.Mutex
	items []item
}

func (i *inventory) list() []item {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]item{}, i.items...)
}

func (i *inventory) add(it item) item {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.items = append(i.items, it)
	return it
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
