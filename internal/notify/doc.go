// Package notify announces executions where people are: Slack incoming webhooks,
// signed JSON webhooks and email over SMTP, configured per environment in its
// notifications block. A Dispatcher receives the engine's durable events, decides
// which are triggers (execution started, approval waiting, verification failed,
// rolled back, succeeded) and sends them asynchronously with a bounded queue,
// timeouts and retries; a notifier that fails never blocks or fails the execution,
// its failure is written to the execution's console.
package notify
