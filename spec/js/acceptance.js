#!/usr/bin/env node
// Acceptance of the fake Genesys Cloud by the official JavaScript SDK (purecloud-platform-client-v2).
//   node spec/js/acceptance.js http://127.0.0.1:PORT
// Installs the SDK into ${XDG_CACHE_HOME:-$HOME/.cache}/lua-genesys-usage/npm (outside git), points its
// ApiClient at the fake through setGateway (login and API), logs in with client credentials and calls the
// 11 UsageApi operations, driving the async lifecycles and paging. Prints one line per check and ends with
// "N passed, M failed" (exit 0 only when M = 0). Without a reachable npm registry it prints one line saying
// so, then "0 passed, 0 failed" and a line starting "SKIPPED:", and exits 0.
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const SDK = 'purecloud-platform-client-v2';
const SDK_VERSION = process.env.GENESYS_JS_SDK_VERSION || '262.0.0';
const CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'lua-genesys-usage', 'npm');

const baseUrl = (process.argv[2] || process.env.FAKE_BASE_URL || '').replace(/\/+$/, '');
if (!/^http:\/\/[^/]+:\d+$/.test(baseUrl)) {
  console.error('usage: node spec/js/acceptance.js http://127.0.0.1:PORT');
  process.exit(2);
}

let passed = 0;
let failed = 0;

function finish(skipReason) {
  console.log(`${passed} passed, ${failed} failed`);
  if (skipReason) console.log(`SKIPPED: ${skipReason}`);
  process.exit(failed === 0 ? 0 : 1);
}

function check(name, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok - ${name}`);
  } else {
    failed++;
    console.log(`not ok - ${name}${detail !== undefined ? ': ' + detail : ''}`);
  }
  return cond;
}

// ------------------------------------------------------------------ installing the SDK

function installedVersion() {
  try {
    const pj = JSON.parse(fs.readFileSync(path.join(CACHE, 'node_modules', SDK, 'package.json'), 'utf8'));
    return pj.version;
  } catch (e) {
    return null;
  }
}

function npm(args, timeout) {
  return execFileSync('npm', args, { cwd: CACHE, stdio: ['ignore', 'pipe', 'pipe'], timeout, encoding: 'utf8' });
}

function ensureSdk() {
  if (installedVersion() === SDK_VERSION) return { ok: true };
  fs.mkdirSync(CACHE, { recursive: true });
  try {
    npm(['ping', '--fetch-timeout=15000', '--fetch-retries=1'], 60000);
  } catch (e) {
    const lines = String(e.stderr || e.message || '').split('\n')
      .map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim())
      .filter((l) => l && !/complete log|^npm notice|^code\b|^errno\b|^syscall\b/i.test(l));
    const why = lines.find((l) => /ECONN|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|FetchError|network|proxy/i.test(l)) ||
      lines[0] || 'no answer';
    return { ok: false, skip: true, why: `npm cannot reach the registry: ${why}` };
  }
  try {
    npm(['install', '--prefix', CACHE, '--no-audit', '--no-fund', '--no-save', '--loglevel=error',
      `${SDK}@${SDK_VERSION}`], 300000);
  } catch (e) {
    const why = String((e.stderr || e.message || '')).split('\n').filter(Boolean).slice(-3).join(' | ');
    return { ok: false, skip: false, why: `npm install ${SDK}@${SDK_VERSION} failed: ${why}` };
  }
  if (installedVersion() !== SDK_VERSION) return { ok: false, skip: false, why: 'SDK not found after npm install' };
  return { ok: true };
}

// ------------------------------------------------------------------ the fake's control endpoint

async function control(method, p, body) {
  const res = await fetch(baseUrl + p, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} -> ${res.status} ${text}`);
  return JSON.parse(text);
}

// ------------------------------------------------------------------ helpers

const FINAL = new Set(['complete', 'failed', 'succeeded', 'cancelled']);

async function until(fn, what) {
  for (let i = 0; i < 40; i++) {
    const r = await fn();
    const st = String((r.body || {}).queryStatus || '').toLowerCase();
    if (FINAL.has(st)) return { final: r, polls: i + 1 };
  }
  throw new Error(`${what} never reached a final state`);
}

function afterOf(nextUri) {
  const q = nextUri.split('?')[1] || '';
  return new URLSearchParams(q).get('after');
}

function sumOf(rows, field) {
  return rows.reduce((s, r) => s + (r[field] || 0), 0);
}

// ------------------------------------------------------------------ the checks

async function main() {
  const inst = ensureSdk();
  if (!inst.ok) {
    if (inst.skip) {
      console.log(inst.why);
      finish(`the official JavaScript SDK could not be installed: ${inst.why}`);
    }
    check(`install ${SDK}@${SDK_VERSION}`, false, inst.why);
    finish();
  }
  const platformClient = require(path.join(CACHE, 'node_modules', SDK));
  const client = platformClient.ApiClient.instance;
  const url = new URL(baseUrl);
  client.setGateway({ host: url.hostname, protocol: 'http', port: Number(url.port) });
  client.setReturnExtendedResponses(true);
  const api = new platformClient.UsageApi();
  console.log(`# ${SDK} ${SDK_VERSION} against ${baseUrl}`);

  await control('POST', '/__fake/reset', {});
  await control('POST', '/__fake/config', { lifecycle: { polls: 2 } });
  const catalog = await control('GET', '/__fake/catalog');
  const heavy = catalog.clients.find((c) => c.name === 'Bulk Export Service'); // active every day
  const multi = catalog.clients.find((c) => c.organizations.length >= 3);

  // login through the SDK (client credentials against the fake's /oauth/token)
  try {
    const auth = await client.loginClientCredentialsGrant('demo-client', 'demo-secret');
    check('loginClientCredentialsGrant obtains a token from the fake', typeof auth.accessToken === 'string' &&
      auth.accessToken.length >= 20, JSON.stringify(auth));
  } catch (e) {
    check('loginClientCredentialsGrant obtains a token from the fake', false, JSON.stringify(e));
    finish();
  }
  try {
    await platformClient.ApiClient.instance.loginClientCredentialsGrant('demo-client', 'wrong');
    check('a bad secret is rejected', false, 'login succeeded');
  } catch (e) {
    const res = (e && e.response) || e || {};
    const body = res.data || res.body || {};
    check('a bad secret is rejected with 400 invalid_client', res.status === 400 && body.error === 'invalid_client',
      JSON.stringify({ status: res.status, body }));
  }
  await client.loginClientCredentialsGrant('demo-client', 'demo-secret');

  // Seven recent days (aggregates jobs may not start more than a year ago). The old generation counts the days
  // of [start, end), aggregates jobs every day from the start's through the end's: the same days both ways.
  const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
  const first = day(-16);
  const last = day(-10);
  const interval = `${first}T00:00:00.000Z/${day(-9)}T00:00:00.000Z`;
  const jobInterval = `${first}T00:00:00.000Z/${last}T00:00:00.000Z`;
  // a count above 2^31 on the first day (the fake's count offset: one record of Bulk Export Service gets 3e9 more)
  await control('POST', '/__fake/config', { count_offset: { date: first, value: '3000000000' } });
  const dataRecs = await control('GET', `/__fake/data?start=${first}&end=${last}&scope=org`);
  const orgTotal = sumOf(dataRecs, 'requests');

  // 1. postUsageQuery + 2. getUsageQueryExecutionIdResults
  {
    const r = await api.postUsageQuery({ interval, granularity: 'Day', groupBy: ['OAuthClientId'] });
    check('postUsageQuery answers 200 UsageExecutionResult', r.status === 200 && typeof r.body.executionId === 'string' &&
      r.body.resultsUri === `/api/v2/usage/query/${r.body.executionId}/results`, JSON.stringify(r.body));
    check('responses carry ININ-Correlation-Id and inin-ratelimit-* headers',
      typeof r.headers['inin-correlation-id'] === 'string' && r.headers['inin-ratelimit-allowed'] === '300');
    const first = await api.getUsageQueryExecutionIdResults(r.body.executionId);
    check('getUsageQueryExecutionIdResults: Running without results first',
      first.body.queryStatus === 'Running' && first.body.results === undefined, JSON.stringify(first.body));
    const { final } = await until(() => api.getUsageQueryExecutionIdResults(r.body.executionId), 'usage query');
    const rows = final.body.results;
    check('getUsageQueryExecutionIdResults: Complete with ApiUsageRow results', final.body.queryStatus === 'Complete' &&
      Array.isArray(rows) && rows.length > 0 && typeof rows[0].clientId === 'string' &&
      /^\d{4}-\d\d-\d\dT00:00:00\.000Z$/.test(rows[0].date), JSON.stringify(rows[0]));
    check('postUsageQuery sums match the raw data set', sumOf(rows, 'requests') === orgTotal,
      `${sumOf(rows, 'requests')} vs ${orgTotal}`);
    const big = rows.filter((x) => x.clientId === heavy.id && x.requests > 2 ** 31);
    const bigRaw = sumOf(dataRecs.filter((x) => x.clientId === heavy.id && x.date === day(-16)), 'requests'); // (first is shadowed here)
    check('counts above 2^31 arrive as exact integers', big.length === 1 && bigRaw > 2 ** 31 &&
      Number.isSafeInteger(big[0].requests) && big[0].requests === bigRaw, JSON.stringify(big));
  }

  // 3. postUsageSimplesearch + 4. getUsageSimplesearchExecutionIdResults (cursor paging)
  {
    await control('POST', '/__fake/config', { result_rows: 120 });
    const r = await api.postUsageSimplesearch({ interval, httpMethods: ['GET'] });
    await control('POST', '/__fake/config', { result_rows: false });
    check('postUsageSimplesearch answers 200 UsageExecutionResult', r.status === 200 &&
      r.body.resultsUri === `/api/v2/usage/simplesearch/${r.body.executionId}/results`);
    const { final } = await until(() => api.getUsageSimplesearchExecutionIdResults(r.body.executionId, { pageSize: 50 }),
      'simple search');
    let page = final;
    const rows = [];
    let pages = 0;
    for (;;) {
      pages++;
      rows.push(...page.body.results);
      if (!page.body.cursors || !page.body.cursors.after) break;
      page = await api.getUsageSimplesearchExecutionIdResults(r.body.executionId,
        { pageSize: 50, after: page.body.cursors.after });
    }
    check('getUsageSimplesearchExecutionIdResults pages with cursors.after', rows.length === 120 && pages === 3,
      `${rows.length} rows in ${pages} pages`);
    const s = await api.postUsageSimplesearch({ interval, oauthClientNames: ['データ同期 bot'], httpMethods: ['GET', 'POST'] });
    const { final: sf } = await until(() => api.getUsageSimplesearchExecutionIdResults(s.body.executionId, { pageSize: 1000 }),
      'simple search');
    const expect = dataRecs.filter((x) => x.clientName === 'データ同期 bot' && ['GET', 'POST'].includes(x.httpMethod));
    check('simple search filters by a non-ASCII client name', sf.body.results.length > 0 &&
      sf.body.results.every((x) => x.clientName === 'データ同期 bot') &&
      sumOf(sf.body.results, 'status200') === sumOf(expect, 'status200'));
  }

  // 5. postOauthClientUsageQuery + 6. getOauthClientUsageQueryResult
  {
    const r = await api.postOauthClientUsageQuery(multi.id, { interval, groupBy: ['OrganizationId'] });
    check('postOauthClientUsageQuery answers 200 UsageExecutionResult', r.status === 200 &&
      r.body.resultsUri === `/api/v2/oauth/clients/${multi.id}/usage/query/results/${r.body.executionId}`);
    const { final } = await until(() => api.getOauthClientUsageQueryResult(r.body.executionId, multi.id), 'client query');
    const all = await control('GET', `/__fake/data?start=${first}&end=${last}&scope=all&client_id=${multi.id}`);
    const orgs = new Set(final.body.results.map((x) => x.organizationId));
    check('getOauthClientUsageQueryResult: Complete, every organization of the client',
      final.body.queryStatus === 'Complete' && orgs.size >= 2 &&
      sumOf(final.body.results, 'requests') === sumOf(all, 'requests'));
  }

  // 7. getOauthClientUsageSummary
  {
    const r = await api.getOauthClientUsageSummary(heavy.id, { days: '3' });
    check('getOauthClientUsageSummary answers 200 UsageExecutionResult', r.status === 200 &&
      r.body.resultsUri === `/api/v2/oauth/clients/${heavy.id}/usage/query/results/${r.body.executionId}`);
    const { final } = await until(() => api.getOauthClientUsageQueryResult(r.body.executionId, heavy.id), 'summary');
    // today and the 2 days before; today has no usage yet (the service lags a day)
    const dates = final.body.results.map((x) => x.date.slice(0, 10)).join(',');
    check('the summary covers the last 3 days, today without usage', final.body.queryStatus === 'Complete' &&
      dates === `${day(-2)},${day(-1)}` && final.body.results.every((x) => x.clientName === heavy.name), dates);
  }

  // 8. postUsageAggregatesQueryJobs + 9. getUsageAggregatesQueryJob (Queued -> Running -> Succeeded, nextUri)
  {
    await control('POST', '/__fake/config', { lifecycle: { polls: 3 } });
    const body = { interval: jobInterval, granularity: 'Day', groupBy: ['OauthClientId', 'TemplateUri'],
      metrics: ['Requests', 'Status200'] };
    const r = await api.postUsageAggregatesQueryJobs(body);
    check('postUsageAggregatesQueryJobs answers 200 with id and selfUri', r.status === 200 && typeof r.body.id === 'string' &&
      r.body.selfUri === `/api/v2/usage/aggregates/query/jobs/${r.body.id}`, JSON.stringify(r.body));
    const states = [];
    let page;
    for (let i = 0; i < 10; i++) {
      page = await api.getUsageAggregatesQueryJob(r.body.id, { pageSize: 100 });
      states.push(page.body.queryStatus);
      if (page.body.queryStatus === 'Succeeded') break;
    }
    check('getUsageAggregatesQueryJob goes Queued, Running, Succeeded', states.join(',') === 'Queued,Running,Running,Succeeded',
      states.join(','));
    const rows = [];
    let pages = 0;
    for (;;) {
      pages++;
      rows.push(...page.body.entities);
      if (!page.body.nextUri) break;
      page = await api.getUsageAggregatesQueryJob(r.body.id, { pageSize: 100, after: afterOf(page.body.nextUri) });
    }
    check('aggregates pages follow nextUri/after', pages > 1 && rows.length > 100 && rows.length < pages * 100 + 1,
      `${rows.length} rows in ${pages} pages`);
    check('OrganizationPublicApiUsage rows have date, oauthClient and requestCount', rows.every((x) =>
      /^\d{4}-\d\d-\d\d$/.test(x.date) && x.oauthClient && typeof x.oauthClient.name === 'string' &&
      Number.isSafeInteger(x.requestCount) && x.status300 === undefined));
    check('aggregate sums match the raw data set', sumOf(rows, 'requestCount') === orgTotal,
      `${sumOf(rows, 'requestCount')} vs ${orgTotal}`);
    await control('POST', '/__fake/config', { lifecycle: { polls: 0 } });
  }

  // 10. postUsageClientClientIdAggregatesQueryJobs + 11. getUsageClientClientIdAggregatesQueryJob
  {
    const r = await api.postUsageClientClientIdAggregatesQueryJobs(multi.id,
      { interval: jobInterval, groupBy: ['OrganizationId', 'Platform'], granularity: 'Week' });
    check('postUsageClientClientIdAggregatesQueryJobs answers 200', r.status === 200 &&
      r.body.selfUri === `/api/v2/usage/client/${multi.id}/aggregates/query/jobs/${r.body.id}`);
    const { final } = await until(() => api.getUsageClientClientIdAggregatesQueryJob(multi.id, r.body.id, {}), 'client job');
    check('getUsageClientClientIdAggregatesQueryJob: Succeeded with ClientPublicApiUsage rows',
      final.body.queryStatus === 'Succeeded' && final.body.entities.length > 0 &&
      final.body.entities.every((x) => typeof x.organizationId === 'string' && x.oauthClient === undefined));
  }

  // failures, empty arrays and errors as the SDK sees them
  {
    await control('POST', '/__fake/faults', { fault: 'job_failed' });
    const r = await api.postUsageAggregatesQueryJobs({ interval: jobInterval });
    const { final } = await until(() => api.getUsageAggregatesQueryJob(r.body.id, {}), 'failed job');
    check('a failed job reports Failed with errorBody', final.body.queryStatus === 'Failed' &&
      typeof final.body.errorBody.message === 'string');
    const e = await api.postUsageAggregatesQueryJobs({ interval: jobInterval,
      oauthClientIds: ['00000000-0000-0000-0000-000000000001'] });
    const { final: empty } = await until(() => api.getUsageAggregatesQueryJob(e.body.id, {}), 'empty job');
    check('empty entities arrive as an array', Array.isArray(empty.body.entities) && empty.body.entities.length === 0);
    try {
      await api.postUsageQuery({ granularity: 'Day' });
      check('a body without interval is rejected with 400', false);
    } catch (err) {
      check('a body without interval is rejected with 400 ErrorBody', err.status === 400 && err.body.code === 'bad.request' &&
        err.body.details[0].fieldName === 'interval', JSON.stringify(err.body));
    }
    try {
      await api.getUsageAggregatesQueryJob('no-such-job', {});
      check('an unknown job is a 404', false);
    } catch (err) {
      check('an unknown job is a 404 not.found', err.status === 404 && err.body.code === 'not.found');
    }
    await control('POST', '/__fake/faults', { fault: 'status', status: 429, retry_after: 2 });
    try {
      await api.postUsageQuery({ interval });
      check('a 429 fault reaches the SDK', false);
    } catch (err) {
      check('a 429 reaches the SDK with Retry-After and too.many.requests.retry.after',
        err.status === 429 && err.headers['retry-after'] === '2' && err.body.code === 'too.many.requests.retry.after');
    }
    await control('POST', '/__fake/faults', { fault: 'expired_token' });
    try {
      await api.postUsageQuery({ interval });
      check('an expired token is a 401', false);
    } catch (err) {
      check('an expired token is a 401 credentials.expired', err.status === 401 && err.body.code === 'credentials.expired');
    }
    await client.loginClientCredentialsGrant('org-viewer', 'org-viewer-secret');
    try {
      await api.postUsageSimplesearch({ interval });
      check('a missing permission is a 403', false);
    } catch (err) {
      check('a missing permission is a 403 missing.any.permissions', err.status === 403 &&
        err.body.code === 'missing.any.permissions');
    }
  }

  // documented edges as the SDK sees them: 202 answers, an unknown body field, the interval limits, query parameters
  {
    await client.loginClientCredentialsGrant('demo-client', 'demo-secret');
    await control('POST', '/__fake/config', { accepted: { submit: true, running: 'body' }, lifecycle: { polls: 1 } });
    const q = await api.postUsageQuery({ interval });
    check('a 202 submit reaches the SDK as a success with its UsageExecutionResult', q.status === 202 &&
      typeof q.body.executionId === 'string', JSON.stringify({ status: q.status, body: q.body }));
    const j = await api.postUsageAggregatesQueryJobs({ interval: jobInterval });
    const running = await api.getUsageAggregatesQueryJob(j.body.id, {});
    check('a 202 job GET (still running) reaches the SDK with its body', running.status === 202 &&
      running.body.queryStatus === 'Queued', JSON.stringify({ status: running.status, body: running.body }));
    await control('POST', '/__fake/config', { accepted: false, lifecycle: { polls: 0 } });
    try {
      await api.postUsageAggregatesQueryJobs({ interval: jobInterval, colour: 'blue' });
      check('an unknown body field is rejected', false);
    } catch (err) {
      check('an unknown body field is a 400 invalid.property naming it', err.status === 400 &&
        err.body.code === 'invalid.property' && err.body.details[0].fieldName === 'colour', JSON.stringify(err.body));
    }
    try {
      await api.postUsageAggregatesQueryJobs({ interval: `${day(-400)}/${day(-380)}` });
      check('a job starting more than a year ago is rejected', false);
    } catch (err) {
      check('a job starting more than a year ago is a 400 constraint.validation', err.status === 400 &&
        err.body.code === 'constraint.validation', JSON.stringify(err.body));
    }
    try {
      await api.getUsageAggregatesQueryJob(j.body.id, { pageSize: 5000 });
      check('pageSize 5000 is rejected', false);
    } catch (err) {
      check('pageSize 5000 is a 400 invalid.query.param.value', err.status === 400 &&
        err.body.code === 'invalid.query.param.value' && err.body.details[0].fieldName === 'pageSize',
        JSON.stringify(err.body));
    }
  }

  const log = await control('GET', '/__fake/log');
  const ua = log.find((x) => x.path.startsWith('/api/'));
  check('the fake logged the SDK requests', log.length > 20 && ua && /application\/json/.test(ua.headers.accept || ''));
  finish();
}

main().catch((e) => {
  check('the acceptance run finishes without an exception', false, (e && e.stack) || JSON.stringify(e));
  finish();
});
