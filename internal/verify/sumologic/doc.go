// Package sumologic is the verification provider for Sumo Logic, for metric
// checks from aggregate queries and for log checks. It drives the Search Job
// API: create a job (202 with a Location), send its cookies back on every call,
// poll it within the keep-alive window until it is done, read its records or page
// through its messages, and delete it; 429 answers are retried with backoff.
package sumologic
