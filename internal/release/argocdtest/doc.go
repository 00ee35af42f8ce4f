// Package argocdtest evaluates sluice's Argo CD health check
// (deploy/argocd/release-health.lua) the way Argo CD does: the resource as the Lua
// global obj, the script's returned table read as status and message.
package argocdtest
