-- usage.api.operations: the one table that describes the 11 operations of the Usage API (docs/service.md),
-- complete on its own: client methods and their snake_case aliases, argument checking, body validation,
-- the flows, the command line and docs/operations.md all derive from it and add nothing to it.
--
-- name         the official SDKs' operation name (the client method)
-- params       positional path parameters, in the SDK's argument order (entries of usage.api.params)
-- query        the query parameters, keys of the trailing `opts` table (entries of usage.api.params)
-- body         the request model (the trailing `body` argument)
-- response     the success model
-- permissions  any one of them is enough
-- Derived here, for each row: snake_name, idempotent, path_parts, build_path(a, b), query (name -> entry),
-- query_names, and signature (usage.api.params: the checks of a call's arguments).

local core = require "usage.core"
local params = require "usage.api.params"

local query_page = { "pageSize", "after" }

local operations = {
  {
    name = "getOauthClientUsageQueryResult",
    method = "GET",
    path = "/api/v2/oauth/clients/{clientId}/usage/query/results/{executionId}",
    params = { "executionId", "clientId" },
    response = "ApiUsageQueryResult",
    permissions = { "oauth:client:view", "usage:client:view" },
    generation = "query",
    summary = "Get the results of a usage query for an OAuth client",
  },
  {
    name = "getOauthClientUsageSummary",
    method = "GET",
    path = "/api/v2/oauth/clients/{clientId}/usage/summary",
    params = { "clientId" },
    query = { "days" },
    response = "UsageExecutionResult",
    permissions = { "oauth:client:view", "usage:client:view" },
    generation = "query",
    summary = "Start a usage summary query for an OAuth client over the last N days",
  },
  {
    name = "getUsageAggregatesQueryJob",
    method = "GET",
    path = "/api/v2/usage/aggregates/query/jobs/{jobId}",
    params = { "jobId" },
    query = query_page,
    response = "OrganizationPublicApiUsageResultsResponse",
    permissions = { "usage:organization:view" },
    generation = "jobs",
    summary = "Get the status and a page of results of an organization usage aggregates job",
  },
  {
    name = "getUsageClientClientIdAggregatesQueryJob",
    method = "GET",
    path = "/api/v2/usage/client/{clientId}/aggregates/query/jobs/{jobId}",
    params = { "clientId", "jobId" },
    query = query_page,
    response = "ClientPublicApiUsageResultsResponse",
    permissions = { "usage:client:view" },
    generation = "jobs",
    summary = "Get the status and a page of results of a client usage aggregates job",
  },
  {
    name = "getUsageQueryExecutionIdResults",
    method = "GET",
    path = "/api/v2/usage/query/{executionId}/results",
    params = { "executionId" },
    response = "ApiUsageQueryResult",
    permissions = { "oauth:client:view", "usage:organization:view" },
    generation = "query",
    summary = "Get the results of an organization usage query",
  },
  {
    name = "getUsageSimplesearchExecutionIdResults",
    method = "GET",
    path = "/api/v2/usage/simplesearch/{executionId}/results",
    params = { "executionId" },
    query = query_page,
    response = "ApiUsageQueryResult",
    permissions = { "oauth:client:view", "usage:simpleSearch:view" },
    generation = "query",
    summary = "Get a page of the results of a usage simple search",
  },
  {
    name = "postOauthClientUsageQuery",
    method = "POST",
    path = "/api/v2/oauth/clients/{clientId}/usage/query",
    params = { "clientId" },
    body = "ApiUsageClientQuery",
    response = "UsageExecutionResult",
    permissions = { "oauth:client:view", "usage:client:view" },
    generation = "query",
    summary = "Start a usage query for an OAuth client",
  },
  {
    name = "postUsageAggregatesQueryJobs",
    method = "POST",
    path = "/api/v2/usage/aggregates/query/jobs",
    params = {},
    body = "OrganizationPublicApiUsageQueryRequest",
    response = "OrganizationUsageQueryResponse",
    permissions = { "usage:organization:view" },
    generation = "jobs",
    summary = "Start an organization usage aggregates job",
  },
  {
    name = "postUsageClientClientIdAggregatesQueryJobs",
    method = "POST",
    path = "/api/v2/usage/client/{clientId}/aggregates/query/jobs",
    params = { "clientId" },
    body = "ClientPublicApiUsageQueryRequest",
    response = "ClientUsageQueryResponse",
    permissions = { "usage:client:view" },
    generation = "jobs",
    summary = "Start a usage aggregates job for an OAuth client",
  },
  {
    name = "postUsageQuery",
    method = "POST",
    path = "/api/v2/usage/query",
    params = {},
    body = "ApiUsageOrganizationQuery",
    response = "UsageExecutionResult",
    permissions = { "oauth:client:view", "usage:organization:view" },
    generation = "query",
    summary = "Start an organization usage query",
  },
  {
    name = "postUsageSimplesearch",
    method = "POST",
    path = "/api/v2/usage/simplesearch",
    params = {},
    body = "ApiUsageSimpleSearch",
    response = "UsageExecutionResult",
    permissions = { "oauth:client:view", "usage:simpleSearch:view" },
    generation = "query",
    summary = "Start a usage simple search",
  },
}

-- "getUsageQueryExecutionIdResults" -> "get_usage_query_execution_id_results"
local function snake_case(name)
  return (name:gsub("(%l)(%u)", "%1_%2"):gsub("(%u)(%u%l)", "%1_%2"):lower())
end

-- "/a/{x}/b" -> { "/a/", "x", "/b" }: literal text at odd positions, parameter names at even ones
local function path_parts(path)
  local parts, pos = {}, 1
  for s, name, e in path:gmatch("(){(%w+)}()") do
    parts[#parts + 1] = path:sub(pos, s - 1)
    parts[#parts + 1] = name
    pos = e
  end
  parts[#parts + 1] = path:sub(pos)
  return parts
end

local percent_encode = core.percent_encode
-- a path argument percent-encoded; the last few remembered (polls and pages repeat their ids)
local encoded, encoded_count = {}, 0
local function encode(a)
  local e = encoded[a]
  if e then return e end
  e = percent_encode(a)
  if #a <= 64 then
    if encoded_count >= 64 then encoded, encoded_count = {}, 0 end
    encoded[a], encoded_count = e, encoded_count + 1
  end
  return e
end

-- build_path(a, b) of an operation: a and b in the order of the SDK's arguments (at most two here), each
-- percent-encoded
local function path_builder(op)
  local parts = op.path_parts -- literal, name, literal, name, literal
  if #parts == 1 then
    local p = parts[1]
    return function() return p end
  elseif #parts == 3 then
    local p1, p2 = parts[1], parts[3]
    return function(a) return p1 .. encode(a) .. p2 end
  elseif #parts == 5 then
    local p1, p2, p3 = parts[1], parts[3], parts[5]
    if parts[2] == op.params[1] then
      return function(a, b) return p1 .. encode(a) .. p2 .. encode(b) .. p3 end
    end
    return function(a, b) return p1 .. encode(b) .. p2 .. encode(a) .. p3 end
  end
  error("usage: operations with more than two path parameters are not supported: " .. op.name)
end

local by_name = {}
for _, op in ipairs(operations) do
  op.snake_name = snake_case(op.name)
  op.idempotent = op.method == "GET"
  op.path_parts = path_parts(op.path)
  op.build_path = path_builder(op)
  op.query_names = op.query or {}
  table.sort(op.query_names)
  op.query = {}
  local options = { headers = params.entries.headers }
  for _, q in ipairs(op.query_names) do
    op.query[q] = assert(params.entries[q], q)
    options[q] = op.query[q]
  end
  op.signature = params.signature { name = op.name, ids = op.params, body = op.body, options = options }
  by_name[op.name] = op
  by_name[op.snake_name] = op
end

return {
  list = operations,
  by_name = by_name,
}
