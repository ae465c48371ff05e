-- Argo CD health of vmroll.io objects (VirtualMachinePool, AzureAccount), read from the kstatus
-- conditions vmroll writes. For Argo CD's sandbox (gopher-lua, Lua 5.1): base and table
-- functions only, no string library.
local hs = {}
local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for vmroll to report status"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for vmroll to observe generation " .. generation
  return hs
end
local conditions = {}
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    conditions[condition.type] = condition
  end
end
local function said(healthStatus, conditionType)
  local condition = conditions[conditionType]
  if condition == nil or condition.status ~= "True" then
    return false
  end
  hs.status = healthStatus
  hs.message = (condition.reason or conditionType) .. ": " .. (condition.message or "")
  return true
end
-- Stalled before paused: a pause does not hide what a human must fix.
if said("Degraded", "Stalled") or said("Suspended", "RolloutPaused") or said("Healthy", "Ready")
    or said("Progressing", "Reconciling") then
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
