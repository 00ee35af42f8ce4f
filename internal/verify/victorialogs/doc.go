// Package victorialogs is the verification provider for VictoriaLogs: log checks
// read the lines a LogsQL query matches over the window (/select/logsql/query,
// keeping the lines for the console's templates and the compare judge), and
// metric checks run LogsQL stats queries such as `app:=shop error | stats count()
// as errors` (/select/logsql/stats_query, or stats_query_range for a sample).
package victorialogs
