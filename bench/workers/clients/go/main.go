// Command clients-bench times StartRun-and-wait of a registered pipeline with the
// Go SDK, interleaved with a bare unary grpc.health.v1 Check to the same endpoint,
// and prints one JSON line: {"p50_ms", "p99_ms", "bare_p50_ms", "bare_p99_ms", "failed"}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	iamodules "github.com/ia-modules/ia-modules/sdk/go"
	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
)

func main() {
	endpoint := flag.String("endpoint", "", "host:port of the stack's front door")
	pipeline := flag.String("pipeline", "", "registered pipeline to run")
	iterations := flag.Int("iterations", 200, "timed runs")
	warmup := flag.Int("warmup", 10, "untimed runs first")
	flag.Parse()
	if err := measure(*endpoint, *pipeline, *iterations, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func measure(endpoint, pipeline string, iterations, warmup int) error {
	ctx := context.Background()
	client, err := iamodules.NewClient(endpoint)
	if err != nil {
		return err
	}
	defer client.Close()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)

	run := func() (bool, error) {
		started, err := client.StartRun(ctx, iamodules.RunRequest{Pipeline: pipeline, Inputs: map[string]any{"count": 1}})
		if err != nil {
			return false, err
		}
		done, err := client.WaitRun(ctx, started.GetRunId())
		if err != nil {
			return false, err
		}
		return done.GetState() == executorv1.RunState_RUN_STATE_SUCCEEDED, nil
	}
	bare := func() error {
		_, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}

	for range warmup {
		if err := bare(); err != nil {
			return err
		}
		if _, err := run(); err != nil {
			return err
		}
	}
	runTimes, bareTimes, failed := []float64{}, []float64{}, 0
	for range iterations {
		start := time.Now()
		if err := bare(); err != nil {
			return err
		}
		bareTimes = append(bareTimes, ms(time.Since(start)))
		start = time.Now()
		succeeded, err := run()
		if err != nil {
			return err
		}
		runTimes = append(runTimes, ms(time.Since(start)))
		if !succeeded {
			failed++
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"p50_ms": median(runTimes), "p99_ms": percentile(runTimes, 99),
		"bare_p50_ms": median(bareTimes), "bare_p99_ms": percentile(bareTimes, 99),
		"failed": failed, "samples": len(runTimes),
	})
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// median and percentile (nearest rank, so p99 is a value that was seen) match
// bench/measure.py, so every language's figures are computed alike.
func median(samples []float64) float64 {
	sorted := append([]float64(nil), samples...)
	sort.Float64s(sorted)
	middle := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[middle]
	}
	return (sorted[middle-1] + sorted[middle]) / 2
}

func percentile(samples []float64, q float64) float64 {
	sorted := append([]float64(nil), samples...)
	sort.Float64s(sorted)
	rank := max(1, int(math.Ceil(q/100*float64(len(sorted)))))
	return sorted[rank-1]
}
