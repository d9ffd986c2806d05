/*
 * Geo operator console — browser side.
 * Plain ES2020, no framework, no build step. Runs under a strict CSP: no inline code, no eval,
 * no innerHTML. Every value from the API is untrusted text and only ever reaches the page via textContent
 * or attribute values (never as markup, never as a URL).
 */
(() => {
  'use strict';

  const API = '/console/api';
  const POLL_MS = 2000;          // overview refresh period
  const POLL_TIMEOUT_MS = 8000;  // a hung poll must not stall the loop
  const ESTIMATE_TIMEOUT_MS = 20000; // the estimate reads the standby's replica, which may be slow when a region is in trouble
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);

  const state = {
    operator: null,
    csrf: null,           // null = signed out
    overview: null,       // last overview rendered
    pollTimer: 0,
    pollGen: 0,           // bumping it cancels the running poll loop
    reqSeq: 0,            // overview request counter, so a stale answer never overwrites a newer one
    renderedSeq: 0,
    connLost: false,
    lastUpdated: null,
    cache: {},            // section -> JSON last rendered, to skip needless DOM churn
    dialog: null,         // { action (descriptor, see ACTIONS), shard, owner, standby, running, finished }
    nasRows: new Map(),   // "tenant/id" -> { tr, json, cells, select, link }: NAS rows are updated in place
    nasFormat: new Map(), // "tenant/id" -> configuration format chosen, kept across refreshes
    nasIds: 0,            // counter for the select/label id pairs (ids never come from data)
  };

  // ---------------------------------------------------------------- helpers

  /** Creates an element; text goes through textContent, attributes through setAttribute. */
  function el(tag, opts = {}, ...children) {
    const node = document.createElement(tag);
    if (opts.className) node.className = opts.className;
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    for (const [k, v] of Object.entries(opts.attrs || {})) {
      if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  /** Creates an SVG element (SVG needs its namespace); attributes only, no style attribute (CSP). */
  function svgEl(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  const arr = (x) => (Array.isArray(x) ? x : []);
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const pad2 = (n) => String(n).padStart(2, '0');
  const fmtTime = (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const fmtDate = (d) => `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const text = (v) => (v === undefined || v === null || v === '' ? '—' : String(v));
  // Fixed 'en' (the page's language) so separators are always "1,234", whatever the browser's locale.
  const COUNT_FORMAT = new Intl.NumberFormat('en');
  const fmtCount = (v) => (isNum(v) ? COUNT_FORMAT.format(v) : '—');
  const fmtSecs = (v) => `${Number(v.toFixed(1))} s`; // 3.25 -> "3.3 s", 0 -> "0 s"

  /** Returns true (and remembers it) when a section's data differs from what is on screen. */
  function changed(key, value) {
    const json = JSON.stringify(value);
    if (state.cache[key] === json) return false;
    state.cache[key] = json;
    return true;
  }

  /** Maps a status word to a badge tone. The word itself is always shown as text too. */
  const TONES = {
    ok: ['healthy', 'active', 'done', 'ok', 'success', 'succeeded', 'completed'],
    bad: ['down', 'critical', 'error', 'failed', 'failure', 'aborted', 'fenced'],
    warn: ['warning', 'warn', 'degraded', 'pending', 'running', 'started', 'switching', 'catching-up', 'draining'],
  };
  function tone(word) {
    const w = String(word ?? '').toLowerCase();
    for (const [t, words] of Object.entries(TONES)) if (words.includes(w)) return t;
    return 'neutral';
  }
  const badge = (word) => el('span', { className: `badge tone-${tone(word)}`, text: text(word) });

  /** The human-readable part of an RFC 7807 problem. */
  function problemText(data, fallback) {
    if (data && typeof data === 'object' && (data.detail || data.title)) return String(data.detail || data.title);
    return fallback;
  }

  /**
   * Calls the console API. Resolves to { status, ok, data } for any HTTP answer; rejects on network
   * failure or timeout. The session cookie is HttpOnly: the browser sends it, JS never sees it.
   */
  async function api(method, path, body, timeoutMs) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    const ctrl = timeoutMs ? new AbortController() : null;
    const timer = ctrl ? setTimeout(() => ctrl.abort(), timeoutMs) : 0;
    try {
      const res = await fetch(API + path, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctrl ? ctrl.signal : undefined,
      });
      const raw = await res.text();
      let data = null;
      try { data = raw ? JSON.parse(raw) : null; } catch { data = null; }
      return { status: res.status, ok: res.ok, data };
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------- views & session

  function showView(name) {
    for (const v of ['loading', 'signin', 'overview']) $(`view-${v}`).hidden = v !== name;
    $('session-box').hidden = name !== 'overview';
  }

  /** Startup: are we already signed in (cookie)? Retries while the router is unreachable. */
  async function checkSession() {
    showView('loading');
    let res;
    try {
      res = await api('GET', '/session', undefined, POLL_TIMEOUT_MS);
    } catch {
      $('loading-text').textContent = 'Cannot reach the router, retrying…';
      setTimeout(checkSession, POLL_MS);
      return;
    }
    if (res.ok && res.data) signedIn(res.data, false);
    else showSignIn(res.status === 401 ? '' : problemText(res.data, `Session check failed (HTTP ${res.status}).`));
  }

  function signedIn(data, moveFocus) {
    state.operator = String(data.operator ?? '');
    state.csrf = String(data.csrf ?? '');
    state.cache = {};
    $('operator-name').textContent = state.operator;
    $('action-notice').textContent = '';
    showView('overview');
    if (moveFocus) $('overview-title').focus();
    startPolling();
  }

  /** Signed out (or session ended): stop polling, drop the CSRF token, show the form. */
  function showSignIn(message) {
    stopPolling();
    state.csrf = null;
    state.operator = null;
    const dlg = $('switchover-dialog');
    if (dlg.open) { state.dialog = null; dlg.close(); }
    setConnLost(false);
    showView('signin');
    $('signin-error').textContent = message || '';
    $('operator-key').focus();
  }

  async function onSignIn(ev) {
    ev.preventDefault();
    const input = $('operator-key');
    const err = $('signin-error');
    const btn = $('signin-submit');
    if (!input.value) { err.textContent = 'Enter the operator key.'; input.focus(); return; }
    btn.disabled = true;
    err.textContent = '';
    try {
      const res = await api('POST', '/session', { key: input.value }, POLL_TIMEOUT_MS);
      if (res.ok && res.data) {
        input.value = ''; // do not keep the key around
        signedIn(res.data, true);
      } else {
        err.textContent = problemText(res.data, `Sign-in failed (HTTP ${res.status}).`);
        input.select();
      }
    } catch {
      err.textContent = 'Cannot reach the router. Check the connection and try again.';
    } finally {
      btn.disabled = false;
    }
  }

  async function onSignOut() {
    const btn = $('signout');
    btn.disabled = true;
    try {
      const res = await api('POST', '/signout', undefined, POLL_TIMEOUT_MS);
      // 204 = signed out; 401 = the session was already gone. Either way we are out.
      if (res.ok || res.status === 401) showSignIn('');
      else $('action-notice').textContent = `Sign-out failed: ${problemText(res.data, `HTTP ${res.status}`)}`;
    } catch {
      $('action-notice').textContent = 'Sign-out failed: cannot reach the router. Try again.';
    } finally {
      btn.disabled = false;
    }
  }

  // ---------------------------------------------------------------- polling

  function startPolling() {
    stopPolling();
    const gen = state.pollGen;
    const tick = async () => {
      await refreshOverview();
      if (gen === state.pollGen && state.csrf !== null) state.pollTimer = setTimeout(tick, POLL_MS);
    };
    tick();
  }

  function stopPolling() {
    state.pollGen += 1;
    clearTimeout(state.pollTimer);
  }

  /** Shows/hides "connection lost" only on a change of state, so screen readers hear it once. */
  function setConnLost(lost) {
    if (lost === state.connLost) return;
    state.connLost = lost;
    const since = state.lastUpdated ? ` Data shown is from ${fmtTime(state.lastUpdated)}.` : '';
    $('conn-notice').textContent = lost ? `Connection lost, retrying…${since}` : '';
    $('view-overview').classList.toggle('stale', lost);
  }

  async function refreshOverview() {
    const seq = ++state.reqSeq;
    let res;
    try {
      res = await api('GET', '/overview', undefined, POLL_TIMEOUT_MS);
    } catch {
      if (state.csrf !== null) setConnLost(true);
      return;
    }
    if (state.csrf === null) return; // signed out meanwhile
    if (res.status === 401) { showSignIn('Your session ended. Sign in again.'); return; }
    if (!res.ok || !res.data) { setConnLost(true); return; }
    if (seq < state.renderedSeq) return; // a newer answer is already on screen
    state.renderedSeq = seq;
    setConnLost(false);
    renderOverview(res.data);
  }

  // ---------------------------------------------------------------- rendering

  function renderOverview(data) {
    state.overview = data;
    state.lastUpdated = new Date();
    const regions = arr(data.regions);
    const shards = arr(data.shards);
    const alerts = arr(data.alerts);
    renderSummary(regions, shards, alerts);
    renderRegions(regions, shards);
    renderAlerts(alerts);
    renderShards(shards);
    renderNas(arr(data.nas));
    renderEvents(arr(data.events));
    const updated = $('updated');
    updated.textContent = `updated ${fmtTime(state.lastUpdated)}`;
    updated.title = data.generatedAt ? `Server time: ${data.generatedAt}` : '';
  }

  function renderSummary(regions, shards, alerts) {
    const healthy = regions.filter((r) => r.healthy === true).length;
    const down = regions.length - healthy;
    $('summary').textContent =
      `${healthy} of ${regions.length} regions healthy${down ? ` (${down} down)` : ''} · ` +
      `${shards.length} shards · ${alerts.length} alert${alerts.length === 1 ? '' : 's'}`;
    document.title = down || alerts.length ? `(${down ? 'DOWN' : alerts.length}) Geo console` : 'Geo console';
  }

  function renderRegions(regions, shards) {
    if (!changed('regions', [regions, shards.map((s) => [s.owner, s.standby])])) return;
    const list = $('regions');
    if (!regions.length) { list.replaceChildren(el('li', { className: 'empty', text: 'No regions configured' })); return; }
    list.replaceChildren(...regions.map((r) => regionCard(r, shards)));
  }

  function regionCard(r, shards) {
    const healthy = r.healthy === true;
    const word = healthy ? 'healthy' : 'down';
    const owns = shards.filter((s) => s.owner === r.id).length;
    const backs = shards.filter((s) => s.standby === r.id).length;
    const fact = (label, value) => [el('dt', { text: label }), el('dd', { text: value })];
    return el('li', { className: `card region ${word}` },
      el('div', { className: 'card-head' },
        el('h4', { className: 'card-title' },
          el('span', { className: 'region-id', text: text(r.id) }),
          el('span', { className: 'region-name', text: text(r.name) })),
        el('span', { className: `health ${word}`, text: word, attrs: { 'data-region': r.id } })),
      el('dl', { className: 'facts' },
        ...fact('RADIUS', `${text(r.radiusHost)} auth ${text(r.authPort)} · acct ${text(r.acctPort)}`),
        ...fact('API', text(r.apiUrl)),
        ...fact('Shards', `owns ${owns} · standby for ${backs}`)));
  }

  function renderAlerts(alerts) {
    $('alert-count').textContent = alerts.length ? `(${alerts.length})` : '';
    if (!changed('alerts', alerts)) return;
    const list = $('alerts');
    if (!alerts.length) { list.replaceChildren(el('li', { className: 'empty', text: 'No alerts' })); return; }
    list.replaceChildren(...alerts.map((a) =>
      el('li', { className: `alert tone-${tone(a.severity)}` }, badge(a.severity || 'info'), el('span', { text: text(a.text) }))));
  }

  function leaseText(lease) {
    if (!lease || typeof lease !== 'object') return '—';
    const secs = Number(lease.remainingSeconds);
    if (!Number.isFinite(secs)) return text(lease.holder);
    return secs > 0 ? `${text(lease.holder)} · ${secs.toFixed(1)} s left` : `${text(lease.holder)} · expired`;
  }

  // ---------------------------------------------------------------- replication (lag text and sparkline)

  const SPARK = { width: 120, height: 24, pad: 2, windowSeconds: 600 };

  /** "0.4 s behind", "streaming" (no lag), or "lag unknown". The not-streaming case is a badge, see replicationCell. */
  function lagText(rep) {
    if (isNum(rep.lagSeconds)) return rep.lagSeconds > 0 ? `${fmtSecs(rep.lagSeconds)} behind` : 'streaming';
    return rep.streaming === true ? 'streaming' : 'lag unknown';
  }

  /** "10 minutes", "45 seconds": how much time a history of n samples covers. */
  function spanText(samples, intervalSeconds) {
    const secs = samples * intervalSeconds;
    return secs >= 120 ? `${Math.round(secs / 60)} minutes` : `${Math.round(secs)} seconds`;
  }

  /** SVG path data for runs of known points; a lone point becomes a dot (a zero-length segment with a round cap). */
  function sparkPath(points) {
    let d = '';
    let run = 0;
    points.forEach((p, i) => {
      if (!p) { run = 0; return; }
      d += `${run ? 'L' : 'M'}${p[0].toFixed(1)} ${p[1].toFixed(1)}`;
      run += 1;
      if (run === 1 && !points[i + 1]) d += 'h0';
    });
    return d;
  }

  /**
   * Lag history as a small line chart (oldest left). Time runs at a fixed scale: a history shorter than the
   * window is drawn against the right edge (now), so charts of different rows line up. Unknown samples are
   * grey ticks on the baseline, so a gap reads as "unknown" rather than "no lag".
   */
  function lagSparkline(rep) {
    const history = arr(rep.history).map((v) => (isNum(v) && v >= 0 ? v : null));
    if (!history.length) return null;
    const interval = isNum(rep.intervalSeconds) && rep.intervalSeconds > 0 ? rep.intervalSeconds : 5;
    const slots = Math.max(history.length, Math.round(SPARK.windowSeconds / interval));
    const known = history.filter((v) => v !== null);
    const max = known.length ? Math.max(...known) : 0;
    const { width: w, height: h, pad } = SPARK;
    const x = (i) => pad + ((slots - history.length + i) * (w - 2 * pad)) / Math.max(slots - 1, 1);
    const y = (v) => h - pad - (max > 0 ? (v / max) * (h - 2 * pad) : 0);
    const unknown = history.map((v, i) => (v === null ? `M${x(i).toFixed(1)} ${h}v-4` : '')).join('');
    const label = `lag over the last ${spanText(history.length, interval)}, ` +
      (known.length ? `max ${fmtSecs(max)}` : 'unknown');
    return svgEl('svg', {
      class: 'spark', width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': label, focusable: 'false',
    },
    svgEl('title', {}, document.createTextNode(label)), // hover tooltip for mouse users; aria-label names it for AT
    svgEl('line', { class: 'spark-base', x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5 }),
    unknown ? svgEl('path', { class: 'spark-unknown', d: unknown }) : null,
    known.length ? svgEl('path', { class: 'spark-line', d: sparkPath(history.map((v, i) => (v === null ? null : [x(i), y(v)]))) }) : null);
  }

  function replicationCell(rep) {
    const td = el('td', { className: 'replication' });
    if (!rep || typeof rep !== 'object') { td.textContent = '—'; return td; }
    const status = rep.streaming === false
      ? el('span', { className: 'badge tone-bad', text: 'not streaming' })
      : el('span', { text: lagText(rep) });
    if (rep.error) {
      status.title = String(rep.error);
      status.classList.add('has-title'); // dotted underline: there is more on hover
    }
    td.append(status);
    const spark = lagSparkline(rep);
    if (spark) td.append(spark);
    return td;
  }

  // ---------------------------------------------------------------- row actions

  /** Both DR actions need an active shard with a standby to move to. */
  const canMove = (s) => Boolean(s.standby) && s.state === 'active';
  /** The standby is the home region: the shard is away from home, and a switchover brings it back. */
  const isFailback = (s) => Boolean(s.home) && s.standby === s.home;

  /**
   * One descriptor per DR action, built for a given shard: every text and the endpoint the shared row-button
   * and dialog code needs. Adding an action means adding a descriptor here, not another flow.
   */
  const ACTIONS = {
    switchover(s) {
      const back = isFailback(s);
      const verb = back ? 'Fail back' : 'Switch over';
      const noun = back ? 'Fail-back' : 'Switchover';
      return {
        kind: 'switchover',
        path: '/switchover',
        noun,
        button: `${verb}…`,
        buttonLabel: `${verb} ${s.shard} to ${s.standby}`,
        busy: back ? 'Failing back…' : 'Switching…',
        title: `${verb} ${s.shard}`,
        explain: back
          ? `Fail back ${s.shard}: moves it home to region ${s.home} with nothing lost. Writes pause for a few seconds ` +
            `while ${s.home} catches up, then ${s.home} is the owner again and ${text(s.owner)} its standby. ` +
            'NAS devices keep their addresses.'
          : `Moves ${s.shard} from ${text(s.owner)} to ${s.standby} with nothing lost: writes pause for a few seconds ` +
            'while the standby catches up, then the standby becomes the owner and the old owner its standby. ' +
            'NAS devices keep their addresses.',
        confirm: verb,
        started: back
          ? `Failing ${s.shard} back to ${s.standby}… This can take up to 30 seconds; keep this window open.`
          : `Switching ${s.shard} over to ${s.standby}… This can take up to 30 seconds; keep this window open.`,
        done: back
          ? `Fail-back done: ${s.shard} is home, owned by ${s.standby}.`
          : `Switchover done: ${s.shard} is now owned by ${s.standby}.`,
        estimate: false,
      };
    },
    promote(s) {
      const owner = text(s.owner);
      return {
        kind: 'promote',
        path: '/promote',
        noun: 'Promotion',
        button: 'Promote…',
        buttonLabel: `Promote ${s.shard} to ${s.standby}`,
        busy: 'Promoting…',
        title: `Promote ${s.shard} to ${s.standby}`,
        explain: `For when region ${owner} is lost: makes ${s.standby} the owner without waiting for ${owner}. ` +
          `Accounting region ${owner} acknowledged but had not yet sent to ${s.standby} is lost — the estimate below. ` +
          `Prefer a switchover while ${owner} is up.`,
        confirm: 'Promote',
        // The server waits for the old owner's lease to run out before promoting.
        started: `Promoting ${s.shard} to ${s.standby}… This waits for region ${owner}'s lease to run out and can ` +
          'take up to 40 seconds; keep this window open.',
        done: `Promotion done: ${s.shard} is now owned by ${s.standby}.`,
        estimate: true,
      };
    },
  };

  /** The descriptor of action `kind` for shard s, or null when that action is not available for it. */
  function actionFor(kind, s) {
    if (!s || !canMove(s) || !Object.prototype.hasOwnProperty.call(ACTIONS, kind)) return null;
    return ACTIONS[kind](s);
  }

  /** A row's action buttons; while an action runs on this shard both are disabled and the running one says so. */
  function rowActions(s, running) {
    if (!canMove(s)) return null;
    const busy = running && running.shard === s.shard;
    return el('div', { className: 'row-actions' }, ...Object.keys(ACTIONS).map((kind) => {
      const a = actionFor(kind, s);
      const btn = el('button', {
        className: 'btn btn-small',
        text: busy && running.kind === kind ? a.busy : a.button,
        attrs: { type: 'button', 'data-action': kind, 'data-shard': s.shard, 'aria-label': a.buttonLabel },
      });
      btn.disabled = busy;
      return btn;
    }));
  }

  function shardRow(s, running) {
    return el('tr', { attrs: { 'data-shard': s.shard } },
      el('th', { text: text(s.shard), attrs: { scope: 'row' } }),
      el('td', { className: 'owner', text: text(s.owner) }),
      el('td', { className: 'standby', text: text(s.standby) }),
      el('td', { className: 'num', text: text(s.epoch) }),
      el('td', {}, badge(s.state)),
      el('td', { className: 'nowrap', text: leaseText(s.lease) }),
      el('td', { className: 'num subscribers', text: fmtCount(s.subscribers) }),
      replicationCell(s.replication),
      el('td', {}, rowActions(s, running)));
  }

  /** Re-renders the shard rows, keeping keyboard focus on the same row button across refreshes. */
  function renderShards(shards) {
    const d = state.dialog;
    const running = d && d.running ? { shard: d.shard, kind: d.action.kind } : null;
    if (!changed('shards', [shards, running])) return;
    const body = $('shards-body');
    const active = document.activeElement;
    const refocus = active && body.contains(active) && active.dataset.shard !== undefined
      ? { shard: active.dataset.shard, kind: active.dataset.action } : null;
    if (!shards.length) {
      body.replaceChildren(el('tr', {}, el('td', { className: 'empty', text: 'No shards', attrs: { colspan: 9 } })));
    } else {
      body.replaceChildren(...shards.map((s) => shardRow(s, running)));
    }
    if (refocus) focusShardButton(refocus.shard, refocus.kind);
  }

  /**
   * Focuses a shard's row button for an action (else its other button, else the Shards heading). Compared by
   * value, never via a selector built from data.
   */
  function focusShardButton(shard, kind) {
    const mine = [...$('shards-body').querySelectorAll('button[data-shard]')]
      .filter((b) => b.dataset.shard === shard && !b.disabled);
    (mine.find((b) => b.dataset.action === kind) || mine[0] || $('shards-title')).focus();
  }

  // ---------------------------------------------------------------- NAS devices (configuration download)

  /** Formats the router's /nas-config understands, in menu order; the first is the default. */
  const NAS_FORMATS = [
    ['mikrotik', 'MikroTik'],
    ['cisco', 'Cisco'],
    ['juniper', 'Juniper'],
    ['freeradius', 'FreeRADIUS proxy'],
  ];
  const nasKey = (n) => `${n.tenant}/${n.id}`;
  const nasFormatLabel = (format) => (NAS_FORMATS.find(([v]) => v === format) || NAS_FORMATS[0])[1];

  /** Points a row's Download link at its configuration in the chosen format (query built by URLSearchParams). */
  function setNasLink(link, n, format) {
    const query = new URLSearchParams({ tenant: String(n.tenant ?? ''), nas: String(n.id ?? ''), format });
    link.setAttribute('href', `${API}/nas-config?${query}`);
    link.setAttribute('aria-label', `Download ${nasFormatLabel(format)} configuration for ${text(n.id)}`);
  }

  /** The texts of a row's data cells: tenant (row header), NAS, address, primary, backup. */
  const nasTexts = (n) => [text(n.tenant), text(n.id), text(n.address), text(n.primary), text(n.backup)];

  /** Builds one NAS row: data cells, then a labelled format select and the Download link it drives. */
  function nasRow(n) {
    const key = nasKey(n);
    const known = NAS_FORMATS.some(([v]) => v === state.nasFormat.get(key));
    const format = known ? state.nasFormat.get(key) : NAS_FORMATS[0][0];
    const selectId = `nas-format-${++state.nasIds}`;
    const select = el('select', { className: 'format', attrs: { id: selectId, 'data-nas': key } },
      ...NAS_FORMATS.map(([value, label]) => el('option', { text: label, attrs: { value } })));
    select.value = format;
    const link = el('a', { className: 'download', text: 'Download', attrs: { download: '', 'data-nas': key } });
    setNasLink(link, n, format);
    select.addEventListener('change', () => {
      state.nasFormat.set(key, select.value);
      const entry = state.nasRows.get(key);
      setNasLink(link, entry ? entry.nas : n, select.value);
    });
    const [tenant, ...rest] = nasTexts(n);
    const cells = [
      el('th', { text: tenant, attrs: { scope: 'row' } }),
      el('td', { className: 'nowrap', text: rest[0] }),
      el('td', { className: 'nowrap address', text: rest[1] }),
      el('td', { className: 'primary', text: rest[2] }),
      el('td', { className: 'backup', text: rest[3] }),
    ];
    const tr = el('tr', { attrs: { 'data-nas': key } }, ...cells,
      el('td', {}, el('div', { className: 'nas-config' },
        el('label', { className: 'visually-hidden', text: `Configuration format for ${text(n.id)}`, attrs: { for: selectId } }),
        select,
        link)));
    return { tr, cells, select, link, nas: n, json: JSON.stringify(n) };
  }

  /**
   * Renders the NAS rows in place: a row that stays keeps its elements (select, chosen format, focus, an open
   * menu); only its texts are updated. New rows are inserted, gone rows removed, never re-created wholesale.
   */
  function renderNas(devices) {
    if (!changed('nas', devices)) return;
    const body = $('nas-body');
    const active = document.activeElement;
    const hadFocus = active && body.contains(active);
    if (!devices.length) {
      state.nasRows.clear();
      body.replaceChildren(el('tr', {}, el('td', { className: 'empty', text: 'No NAS devices', attrs: { colspan: 6 } })));
    } else {
      const rows = devices.map((n) => {
        const key = nasKey(n);
        let entry = state.nasRows.get(key);
        if (!entry) {
          entry = nasRow(n);
        } else if (entry.json !== JSON.stringify(n)) {
          nasTexts(n).forEach((t, i) => { if (entry.cells[i].textContent !== t) entry.cells[i].textContent = t; });
          entry.nas = n;
          entry.json = JSON.stringify(n);
          setNasLink(entry.link, n, entry.select.value);
        }
        return [key, entry];
      });
      const keep = new Set(rows.map(([, e]) => e.tr));
      for (const child of [...body.children]) if (!keep.has(child)) child.remove();
      // Rows arrive sorted, so rows that stay keep their order: only new rows are inserted, nothing focused moves.
      rows.forEach(([, e], i) => { if (body.children[i] !== e.tr) body.insertBefore(e.tr, body.children[i] || null); });
      state.nasRows = new Map(rows);
    }
    // Keep keyboard focus: back on the same control if its row was moved, on the heading if its row is gone.
    if (hadFocus && document.activeElement !== active) (active.isConnected ? active : $('nas-title')).focus();
  }

  function timeCell(iso) {
    const td = el('td', { className: 'nowrap' });
    const d = new Date(iso);
    if (!iso || Number.isNaN(d.getTime())) { td.textContent = text(iso); return td; }
    td.append(el('time', {
      text: fmtTime(d),
      attrs: { datetime: iso, title: `${fmtDate(d)} ${fmtTime(d)} local (${iso})` },
    }));
    return td;
  }

  function renderEvents(events) {
    if (!changed('events', events)) return;
    const body = $('events-body');
    if (!events.length) {
      body.replaceChildren(el('tr', {}, el('td', { className: 'empty', text: 'No DR events yet', attrs: { colspan: 7 } })));
      return;
    }
    body.replaceChildren(...events.map((e) => {
      const ms = Number(e.elapsedMs);
      const outcome = el('td', { className: 'nowrap' }, badge(e.outcome),
        Number.isFinite(ms) ? el('span', { className: 'muted elapsed', text: ` ${Math.round(ms)} ms` }) : null);
      return el('tr', {},
        timeCell(e.at),
        el('td', { className: 'nowrap', text: text(e.shard) }),
        el('td', { text: text(e.operation) }),
        el('td', { text: text(e.step) }),
        outcome,
        el('td', { text: text(e.operator) }),
        el('td', { className: 'detail', text: text(e.detail) }));
    }));
  }

  // ---------------------------------------------------------------- DR action dialog (switchover, fail-back, promote)

  /** Opens the one dialog for action `kind` on a shard; every text comes from the action's descriptor. */
  function openAction(kind, shardName) {
    if (state.dialog && state.dialog.running) return;
    const s = arr(state.overview && state.overview.shards).find((x) => x.shard === shardName);
    const action = actionFor(kind, s);
    if (!action) return;
    state.dialog = { action, shard: s.shard, owner: s.owner, standby: s.standby, running: false, finished: false };
    $('sw-title').textContent = action.title;
    $('sw-explain').textContent = action.explain;
    $('sw-progress').querySelector('progress').setAttribute('aria-label', `${action.noun} in progress`);
    $('sw-steps').setAttribute('aria-label', `${action.noun} steps`);
    $('confirm-hint').textContent = `Type ${s.shard} exactly.`;
    const input = $('confirm-shard');
    input.value = '';
    input.disabled = false;
    setSwStatus('');
    setEstimate(action.estimate ? 'Estimating data loss…' : '', null);
    $('sw-progress').hidden = true;
    $('sw-steps').replaceChildren();
    $('sw-steps').hidden = true;
    setDialogButtons('confirm');
    $('switchover-dialog').showModal();
    input.focus();
    if (action.estimate) loadEstimate(state.dialog);
  }

  /** The promote estimate box; empty = collapsed (switchover). t = tone of the box, null while estimating. */
  function setEstimate(message, t) {
    const box = $('promote-estimate');
    box.className = `estimate${t ? ` tone-${t}` : ''}`;
    box.textContent = message;
  }

  /** Fetches what promoting would lose now. Promoting stays possible without it: the owner region may be gone. */
  async function loadEstimate(d) {
    let res = null;
    try {
      res = await api('GET', `/promote-estimate?shard=${encodeURIComponent(d.shard)}`, undefined, ESTIMATE_TIMEOUT_MS);
    } catch {
      res = null;
    }
    if (state.dialog !== d || state.csrf === null) return; // closed, or reopened for another shard, meanwhile
    if (res && res.status === 401) { showSignIn('Your session ended. Sign in again.'); return; }
    if (!res) setEstimate('Could not estimate the data loss: no answer from the router.', 'bad');
    else if (res.ok && res.data) setEstimate(`Data lost if promoted now (estimate): ${text(res.data.estimate)}`, 'warn');
    else setEstimate(`Could not estimate the data loss: ${problemText(res.data, `HTTP ${res.status}`)}`, 'bad');
  }

  /** 'confirm' (before), 'running' (request in flight), 'result' (only Close). */
  function setDialogButtons(phase) {
    const d = state.dialog;
    const confirmBtn = $('confirm-switchover');
    $('sw-cancel').hidden = phase === 'result';
    $('sw-cancel').disabled = phase === 'running';
    confirmBtn.hidden = phase === 'result';
    confirmBtn.disabled = phase !== 'confirm' || !d || $('confirm-shard').value !== d.shard;
    if (d) confirmBtn.textContent = phase === 'running' ? d.action.busy : d.action.confirm;
    $('sw-close').hidden = phase !== 'result';
  }

  function onConfirmInput() {
    if (state.dialog && !state.dialog.running && !state.dialog.finished) setDialogButtons('confirm');
  }

  function setSwStatus(message, t) {
    const box = $('sw-status');
    box.className = `sw-status${t ? ` tone-${t}` : ''}`;
    box.textContent = message;
  }

  function showSteps(steps) {
    const list = $('sw-steps');
    const items = arr(steps).map((s) => el('li', { text: typeof s === 'string' ? s : JSON.stringify(s) }));
    list.replaceChildren(...items);
    list.hidden = items.length === 0;
  }

  /** Shows the outcome of the POST (res null = no answer) in the dialog's status line. */
  function showOutcome(d, res) {
    const { noun } = d.action;
    if (!res) {
      setSwStatus(`Lost contact with the router while the ${noun.toLowerCase()} was running. Its outcome is unknown: ` +
        'check the DR events and the shard owner before trying again.', 'bad');
    } else if (res.ok) {
      const outcome = text(res.data && res.data.outcome);
      setSwStatus(outcome === 'done' ? d.action.done : `${noun} finished with outcome: ${outcome}.`,
        tone(outcome) === 'neutral' ? 'warn' : tone(outcome));
    } else {
      setSwStatus(`${noun} failed (HTTP ${res.status}): ${problemText(res.data, 'no detail given')}`, 'bad');
    }
  }

  /** Runs the dialog's action (POST), showing progress while it runs and the steps after. */
  async function onRunAction(ev) {
    ev.preventDefault();
    const d = state.dialog;
    const input = $('confirm-shard');
    if (!d || d.running || d.finished || input.value !== d.shard) return;
    d.running = true;
    input.disabled = true;
    setDialogButtons('running');
    setSwStatus(d.action.started, 'warn');
    $('sw-progress').hidden = false;
    const started = Date.now();
    const elapsed = () => { $('sw-elapsed').textContent = `${Math.round((Date.now() - started) / 1000)} s elapsed`; };
    elapsed();
    const ticker = setInterval(elapsed, 1000);
    if (state.overview) renderShards(arr(state.overview.shards)); // disable this row's buttons now

    let res = null;
    try {
      res = await api('POST', d.action.path, { shard: d.shard, to: d.standby, confirm: input.value });
    } catch {
      res = null;
    } finally {
      clearInterval(ticker);
      d.running = false;
      d.finished = true;
    }
    $('sw-progress').hidden = true;
    if (state.csrf === null) return; // signed out meanwhile
    if (res && res.status === 401) {
      showSignIn(`Your session ended; the ${d.action.noun.toLowerCase()} was not run. Sign in again.`);
      return;
    }
    showOutcome(d, res);
    showSteps(res && res.data ? res.data.steps : []);
    setDialogButtons('result');
    const dlg = $('switchover-dialog');
    if (!dlg.open) dlg.showModal(); // it was forced shut meanwhile: the operator must see the result
    $('sw-close').focus();
    startPolling(); // refresh the overview at once
  }

  /** Escape while the request runs would hide the outcome: keep the dialog open until it answers. */
  function onDialogCancel(ev) {
    if (state.dialog && state.dialog.running) ev.preventDefault();
  }

  function onDialogClose() {
    const d = state.dialog;
    if (!d || d.running) return; // still running: the result will reopen the dialog
    if ($('switchover-dialog').open) return; // a late close event: the dialog was reopened meanwhile
    state.dialog = null;
    if (state.csrf === null) return;
    if (d.finished) startPolling();
    focusShardButton(d.shard, d.action.kind);
  }

  // ---------------------------------------------------------------- wiring

  function init() {
    $('signin-form').addEventListener('submit', onSignIn);
    $('signout').addEventListener('click', onSignOut);
    $('shards-body').addEventListener('click', (ev) => {
      const btn = ev.target instanceof Element ? ev.target.closest('button[data-action][data-shard]') : null;
      if (btn && !btn.disabled) openAction(btn.dataset.action, btn.dataset.shard);
    });
    const dlg = $('switchover-dialog');
    $('switchover-form').addEventListener('submit', onRunAction);
    $('confirm-shard').addEventListener('input', onConfirmInput);
    $('sw-cancel').addEventListener('click', () => dlg.close());
    $('sw-close').addEventListener('click', () => dlg.close());
    dlg.addEventListener('cancel', onDialogCancel);
    dlg.addEventListener('close', onDialogClose);
    checkSession();
  }

  init();
})();
