// Package loki is the verification provider for Grafana Loki: log checks count
// the lines a LogQL log query matches over the window (paging through
// query_range, keeping the lines for the console's templates), and metric
// checks run LogQL metric queries such as sum(rate({app="shop"} |= "error" [1m])).
package loki
