// Package deploywatch starts releases when GitOps changes a team's Deployment: for
// every workflow trigger of type deployment it reads the Deployment the service's
// workloadRef names, and when the image of its pod template is not the service's live
// artifact, it starts the workflow with that image — Flagger's model, without ever
// writing the team's Deployment. Each (Deployment, generation, image) starts at most
// one run, on any number of servers, through the store's delivery claims.
package deploywatch
