-- Argo CD health check for sluice's Release (sluice.dev/Release).
-- Install it in argocd-cm:
--   resource.customizations.health.sluice.dev_Release: |
--     <this file>
-- A Release is Healthy once sluice promoted it, Degraded when it rolled back, failed
-- or was aborted, Suspended while it waits for a person (an approval, a pause), and
-- Progressing otherwise.
local hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for sluice to start the release"
  return hs
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for sluice to start the release of the new spec"
  return hs
end
local phase = obj.status.phase
local message = obj.status.message or phase
if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "RolledBack" or phase == "Failed" or phase == "Aborted" then
  hs.status = "Degraded"
elseif phase == "Waiting" or phase == "Paused" then
  hs.status = "Suspended"
else
  hs.status = "Progressing"
end
hs.message = message
return hs
