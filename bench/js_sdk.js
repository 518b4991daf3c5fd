#!/usr/bin/env node
// bench/js_sdk.js: the official JavaScript SDK (purecloud-platform-client-v2) on the benchmark
// workloads, one run, one JSON line. Run by bench/run.lua; the SDK comes from the cache folder the
// acceptance spec installs it into (bench/run.lua installs it there when missing).
//   node bench/js_sdk.js get   BASE TOKEN EXECUTION_ID N   sequential getUsageQueryExecutionIdResults
//   node bench/js_sdk.js pages BASE TOKEN JOB_ID PAGE_SIZE  every page of a finished aggregates job
'use strict';

const os = require('os');
const path = require('path');

const CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'lua-genesys-usage', 'npm');
const platformClient = require(path.join(CACHE, 'node_modules', 'purecloud-platform-client-v2'));

function cpuSeconds(start) {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

async function main() {
  const [mode, base, token, id, count] = process.argv.slice(2);
  const url = new URL(base);
  const client = platformClient.ApiClient.instance;
  client.setGateway({ host: url.hostname, protocol: 'http', port: Number(url.port) });
  client.setAccessToken(token);
  const api = new platformClient.UsageApi();

  if (mode === 'get') {
    const n = Number(count);
    await api.getUsageQueryExecutionIdResults(id); // warm-up: connect outside the timing
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await api.getUsageQueryExecutionIdResults(id);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ requests: n, seconds, cpu: cpuSeconds(c0) }));
  } else if (mode === 'pages') {
    const pageSize = Number(count);
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    let rows = 0;
    let pages = 0;
    let checksum = 0;
    let after;
    for (;;) {
      const opts = { pageSize };
      if (after) opts.after = after;
      const page = await api.getUsageAggregatesQueryJob(id, opts);
      pages++;
      for (const e of page.entities || []) {
        rows++;
        checksum += e.requestCount || 0;
      }
      if (!page.nextUri) break;
      const m = /[?&]after=([^&#]*)/.exec(page.nextUri);
      after = decodeURIComponent(m[1]);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ rows, pages, seconds, cpu: cpuSeconds(c0), checksum,
      peak_kb: Math.round(process.resourceUsage().maxRSS) }));
  } else {
    console.error('unknown mode ' + mode);
    process.exit(2);
  }
}

main().catch((e) => {
  console.error(e && (e.stack || JSON.stringify(e)));
  process.exit(1);
});
