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
    dialog: null,         // { shard, owner, standby, running, finished }
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

  const arr = (x) => (Array.isArray(x) ? x : []);
  const pad2 = (n) => String(n).padStart(2, '0');
  const fmtTime = (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const fmtDate = (d) => `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const text = (v) => (v === undefined || v === null || v === '' ? '—' : String(v));

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

  const canSwitch = (s) => Boolean(s.standby) && s.state === 'active';

  function shardRow(s, runningShard) {
    let action = null;
    if (canSwitch(s)) {
      const running = s.shard === runningShard;
      action = el('button', {
        className: 'btn btn-small',
        text: running ? 'Switching…' : 'Switch over…',
        attrs: { type: 'button', 'data-shard': s.shard, 'aria-label': `Switch over ${s.shard} to ${s.standby}` },
      });
      action.disabled = running;
    }
    return el('tr', { attrs: { 'data-shard': s.shard } },
      el('th', { text: text(s.shard), attrs: { scope: 'row' } }),
      el('td', { className: 'owner', text: text(s.owner) }),
      el('td', { className: 'standby', text: text(s.standby) }),
      el('td', { className: 'num', text: text(s.epoch) }),
      el('td', {}, badge(s.state)),
      el('td', { className: 'nowrap', text: leaseText(s.lease) }),
      el('td', {}, action));
  }

  /** Re-renders the shard rows, keeping keyboard focus on the same row button across refreshes. */
  function renderShards(shards) {
    const runningShard = state.dialog && state.dialog.running ? state.dialog.shard : null;
    if (!changed('shards', [shards, runningShard])) return;
    const body = $('shards-body');
    const active = document.activeElement;
    const refocus = active && body.contains(active) ? active.dataset.shard : undefined;
    if (!shards.length) {
      body.replaceChildren(el('tr', {}, el('td', { className: 'empty', text: 'No shards', attrs: { colspan: 7 } })));
    } else {
      body.replaceChildren(...shards.map((s) => shardRow(s, runningShard)));
    }
    if (refocus !== undefined) focusShardButton(refocus);
  }

  /** Focuses the row button of a shard (compared by value, never via a selector built from data). */
  function focusShardButton(shard) {
    const btn = [...$('shards-body').querySelectorAll('button[data-shard]')].find((b) => b.dataset.shard === shard);
    (btn && !btn.disabled ? btn : $('shards-title')).focus();
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

  // ---------------------------------------------------------------- switchover dialog

  function openSwitchover(shardName) {
    if (state.dialog && state.dialog.running) return;
    const s = arr(state.overview && state.overview.shards).find((x) => x.shard === shardName);
    if (!s || !canSwitch(s)) return;
    state.dialog = { shard: s.shard, owner: s.owner, standby: s.standby, running: false, finished: false };
    $('sw-title').textContent = `Switch over ${s.shard}`;
    $('sw-explain').textContent =
      `Moves ${s.shard} from ${text(s.owner)} to ${s.standby} with nothing lost: writes pause for a few seconds ` +
      'while the standby catches up, then the standby becomes the owner and the old owner its standby. ' +
      'NAS devices keep their addresses.';
    $('confirm-hint').textContent = `Type ${s.shard} exactly.`;
    const input = $('confirm-shard');
    input.value = '';
    input.disabled = false;
    $('sw-status').textContent = '';
    $('sw-status').className = 'sw-status';
    $('sw-progress').hidden = true;
    $('sw-steps').replaceChildren();
    $('sw-steps').hidden = true;
    setDialogButtons('confirm');
    $('switchover-dialog').showModal();
    input.focus();
  }

  /** 'confirm' (before), 'running' (request in flight), 'result' (only Close). */
  function setDialogButtons(phase) {
    const confirmBtn = $('confirm-switchover');
    $('sw-cancel').hidden = phase === 'result';
    $('sw-cancel').disabled = phase === 'running';
    confirmBtn.hidden = phase === 'result';
    confirmBtn.disabled = phase !== 'confirm' || !state.dialog || $('confirm-shard').value !== state.dialog.shard;
    confirmBtn.textContent = phase === 'running' ? 'Switching…' : 'Switch over';
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

  async function onSwitchover(ev) {
    ev.preventDefault();
    const d = state.dialog;
    const input = $('confirm-shard');
    if (!d || d.running || d.finished || input.value !== d.shard) return;
    d.running = true;
    input.disabled = true;
    setDialogButtons('running');
    setSwStatus(`Switching ${d.shard} over to ${d.standby}… This can take up to 30 seconds; keep this window open.`, 'warn');
    $('sw-progress').hidden = false;
    const started = Date.now();
    const elapsed = () => { $('sw-elapsed').textContent = `${Math.round((Date.now() - started) / 1000)} s elapsed`; };
    elapsed();
    const ticker = setInterval(elapsed, 1000);
    if (state.overview) renderShards(arr(state.overview.shards)); // disable this row's button now

    let res = null;
    try {
      res = await api('POST', '/switchover', { shard: d.shard, to: d.standby, confirm: input.value });
    } catch {
      res = null;
    } finally {
      clearInterval(ticker);
      d.running = false;
      d.finished = true;
    }
    $('sw-progress').hidden = true;
    if (state.csrf === null) return; // signed out meanwhile
    if (res && res.status === 401) { showSignIn('Your session ended; the switchover was not run. Sign in again.'); return; }

    if (!res) {
      setSwStatus('Lost contact with the router while the switchover was running. Its outcome is unknown: ' +
        'check the DR events and the shard owner before trying again.', 'bad');
    } else if (res.ok) {
      const outcome = text(res.data && res.data.outcome);
      setSwStatus(outcome === 'done'
        ? `Switchover done: ${d.shard} is now owned by ${d.standby}.`
        : `Switchover finished with outcome: ${outcome}.`, tone(outcome) === 'neutral' ? 'warn' : tone(outcome));
    } else {
      setSwStatus(`Switchover failed (HTTP ${res.status}): ${problemText(res.data, 'no detail given')}`, 'bad');
    }
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
    state.dialog = null;
    if (state.csrf === null) return;
    if (d.finished) startPolling();
    focusShardButton(d.shard);
  }

  // ---------------------------------------------------------------- wiring

  function init() {
    $('signin-form').addEventListener('submit', onSignIn);
    $('signout').addEventListener('click', onSignOut);
    $('shards-body').addEventListener('click', (ev) => {
      const btn = ev.target instanceof Element ? ev.target.closest('button[data-shard]') : null;
      if (btn && !btn.disabled) openSwitchover(btn.dataset.shard);
    });
    const dlg = $('switchover-dialog');
    $('switchover-form').addEventListener('submit', onSwitchover);
    $('confirm-shard').addEventListener('input', onConfirmInput);
    $('sw-cancel').addEventListener('click', () => dlg.close());
    $('sw-close').addEventListener('click', () => dlg.close());
    dlg.addEventListener('cancel', onDialogCancel);
    dlg.addEventListener('close', onDialogClose);
    checkSession();
  }

  init();
})();
