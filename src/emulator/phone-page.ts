import type { FastifyInstance, FastifyReply } from 'fastify';

// Self-contained page (no build step): a handset (SMS, WhatsApp or Messenger user) writing to
// the emulator's senders, live over SSE.
// The inline script avoids template literals so this file can hold it in one.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Twilio emulator · phone</title>
<style>
  :root { --bg: #eef1f6; --ink: #121c2d; --muted: #606b85; --accent: #0263e0; --in: #ffffff; --line: #d8dde6; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
  main { display: flex; gap: 24px; justify-content: center; align-items: flex-start; padding: 24px; flex-wrap: wrap; }
  .panel { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 16px; width: 300px; }
  .panel h1 { font-size: 18px; margin: 0 0 12px; }
  label { display: block; font-weight: 600; font-size: 13px; margin: 12px 0 4px; }
  input, select, textarea { width: 100%; font: inherit; padding: 8px; border: 1px solid #aeb2c1; border-radius: 8px; background: #fff; color: var(--ink); }
  input:focus, select:focus, textarea:focus, button:focus { outline: 3px solid #99cdff; outline-offset: 1px; }
  .hint { color: var(--muted); font-size: 12px; margin-top: 8px; }
  .phone { width: 380px; height: 720px; background: #111; border-radius: 44px; padding: 14px; box-shadow: 0 12px 32px rgba(0,0,0,.25); }
  .screen { background: #f7f7f9; border-radius: 32px; height: 100%; display: flex; flex-direction: column; overflow: hidden; }
  .top { padding: 18px 16px 10px; text-align: center; border-bottom: 1px solid var(--line); background: #fbfbfd; }
  .top .who { font-weight: 700; }
  .top .sub { font-size: 12px; color: var(--muted); }
  .thread { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; }
  .bubble { max-width: 78%; padding: 8px 12px; border-radius: 18px; white-space: pre-wrap; word-wrap: break-word; }
  .bubble img { display: block; max-width: 100%; border-radius: 12px; margin: 4px 0; }
  .from-handset { align-self: flex-end; background: var(--accent); color: #fff; border-bottom-right-radius: 4px; }
  .to-handset { align-self: flex-start; background: var(--in); border: 1px solid var(--line); border-bottom-left-radius: 4px; }
  .auto-reply { font-style: italic; }
  .channel { font-weight: 600; }
  .meta { font-size: 11px; opacity: .75; margin-top: 2px; }
  .empty { color: var(--muted); text-align: center; margin: auto; padding: 24px; }
  form.compose { border-top: 1px solid var(--line); padding: 8px; background: #fbfbfd; }
  .row { display: flex; gap: 8px; align-items: flex-end; }
  .row textarea { flex: 1; resize: none; height: 44px; border-radius: 22px; padding: 11px 14px; overflow: hidden; }
  button { font: inherit; border: 0; border-radius: 22px; padding: 10px 16px; background: var(--accent); color: #fff; font-weight: 600; cursor: pointer; }
  button:disabled { opacity: .5; cursor: default; }
  .attach { display: flex; align-items: center; gap: 8px; margin-top: 6px; font-size: 12px; color: var(--muted); white-space: nowrap; }
  .attach label { margin: 0; font-weight: 400; font-size: 12px; }
  .attach input { width: auto; border: 0; padding: 0; font-size: 12px; }
  .status { font-size: 12px; color: var(--muted); min-height: 1.4em; padding: 0 8px 4px; }
  .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
</style>
</head>
<body>
<main>
  <section class="panel" aria-labelledby="setup-title">
    <h1 id="setup-title">Emulated handset</h1>
    <label for="channel">Channel</label>
    <select id="channel">
      <option value="sms">SMS / MMS (a phone)</option>
      <option value="whatsapp">WhatsApp user</option>
      <option value="messenger">Facebook Messenger user</option>
    </select>
    <label for="handset" id="handset-label">This phone's number</label>
    <input id="handset" list="recent" autocomplete="off" value="+15005550100" aria-describedby="handset-hint">
    <datalist id="recent"></datalist>
    <div class="hint" id="handset-hint">E.164, e.g. +15551234567</div>
    <label for="profile">Profile name (WhatsApp)</label>
    <input id="profile" autocomplete="off" placeholder="optional">
    <label for="business">Writing to the business sender</label>
    <select id="business"></select>
    <div class="hint"><button type="button" id="reload" aria-label="Reload the emulator's numbers">Reload numbers</button></div>
    <p class="hint" id="connection" role="status">Connecting to live events…</p>
  </section>
  <section class="phone" aria-label="Phone">
    <div class="screen">
      <header class="top"><div class="who" id="peer">No number selected</div><div class="sub" id="me"></div></header>
      <div class="thread" id="thread" role="log" aria-live="polite" aria-label="Conversation"></div>
      <div class="status" id="status" role="status" aria-live="polite"></div>
      <form class="compose" id="compose">
        <div class="row">
          <label for="text" class="visually-hidden">Message</label>
          <textarea id="text" placeholder="Text message" rows="1"></textarea>
          <button type="submit" id="send">Send</button>
        </div>
        <div class="attach">
          <label for="files">Attach pictures</label>
          <input type="file" id="files" accept="image/*" multiple>
        </div>
      </form>
    </div>
  </section>
</main>
<script>
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var handsetInput = $('handset'), businessSelect = $('business'), channelSelect = $('channel'), thread = $('thread');
  var seen = {}, numbers = [];
  var PREFIX = { sms: '', whatsapp: 'whatsapp:', messenger: 'messenger:' };
  var HINT = {
    sms: ["This phone's number", 'E.164, e.g. +15551234567'],
    whatsapp: ["This WhatsApp user's number", 'E.164, e.g. +15551234567 (sent as whatsapp:+15551234567)'],
    messenger: ["This Messenger user's id", 'Digits, the page-scoped id, e.g. 2400000000000001 (sent as messenger:…)']
  };

  function channel() { return channelSelect.value; }
  // The address without its channel prefix lives in the field; a pasted prefix picks the channel.
  function normalize() {
    var value = handsetInput.value.trim();
    ['whatsapp', 'messenger'].forEach(function (c) {
      if (value.indexOf(PREFIX[c]) === 0) { channelSelect.value = c; value = value.slice(PREFIX[c].length); }
    });
    handsetInput.value = value;
    $('handset-label').textContent = HINT[channel()][0];
    $('handset-hint').textContent = HINT[channel()][1];
  }
  function handset() { var v = handsetInput.value.trim(); return v ? PREFIX[channel()] + v : ''; }
  function business() { return businessSelect.value; }
  function kindChannel(kind) { return kind === 'whatsapp' || kind === 'messenger' || kind === 'rcs' ? kind : 'sms'; }
  // An SMS handset also hears from the RCS sender of the selected number's Messaging Service.
  function rcsSenders() {
    var chosen = numbers.filter(function (n) { return n.phoneNumber === business(); })[0];
    if (!chosen || !chosen.serviceSid) return [];
    return numbers.filter(function (n) { return n.kind === 'rcs' && n.serviceSid === chosen.serviceSid; })
      .map(function (n) { return n.phoneNumber; });
  }
  function inThread(m) {
    return m.handset === handset() && (m.business === business() || (m.channel === 'rcs' && rcsSenders().indexOf(m.business) >= 0));
  }
  function handsetPath() { return '/_emulator/handsets/' + encodeURIComponent(handset()); }

  function remember(number) {
    var recent = JSON.parse(localStorage.getItem('emulator.handsets') || '[]').filter(function (n) { return n !== number; });
    recent.unshift(number);
    localStorage.setItem('emulator.handsets', JSON.stringify(recent.slice(0, 8)));
    renderRecent();
  }
  function renderRecent() {
    var list = $('recent');
    list.textContent = '';
    JSON.parse(localStorage.getItem('emulator.handsets') || '[]').forEach(function (n) {
      var o = document.createElement('option'); o.value = n; list.appendChild(o);
    });
  }

  function loadNumbers() {
    return fetch('/_emulator/numbers').then(function (r) { return r.json(); }).then(function (all) {
      numbers = all;
      renderBusinesses();
    });
  }
  function renderBusinesses() {
      var current = business();
      var senders = numbers.filter(function (n) { return kindChannel(n.kind) === channel(); });
      businessSelect.textContent = '';
      if (senders.length === 0) {
        var none = document.createElement('option'); none.value = ''; none.textContent = 'No ' + channel() + ' senders yet'; businessSelect.appendChild(none);
      }
      senders.forEach(function (n) {
        var o = document.createElement('option');
        o.value = n.phoneNumber;
        o.textContent = n.phoneNumber + ' (' + n.kind + (n.friendlyName && n.friendlyName !== n.phoneNumber ? ', ' + n.friendlyName : '') + ')';
        businessSelect.appendChild(o);
      });
      if (current) businessSelect.value = current;
      if (!businessSelect.value && senders[0]) businessSelect.value = senders[0].phoneNumber;
      loadThread();
  }

  function bubble(m) {
    if (seen[m.id]) return;
    seen[m.id] = true;
    var empty = thread.querySelector('.empty');
    if (empty) empty.remove();
    var div = document.createElement('div');
    div.className = 'bubble ' + m.direction + (m.kind === 'auto-reply' ? ' auto-reply' : '');
    m.media.forEach(function (media) {
      if (media.contentType.indexOf('image/') === 0) {
        var img = document.createElement('img'); img.src = media.url; img.alt = 'Picture (' + media.contentType + ')'; div.appendChild(img);
      } else {
        var a = document.createElement('a'); a.href = media.url; a.textContent = 'Attachment (' + media.contentType + ')'; div.appendChild(a);
      }
    });
    if (m.body) { var t = document.createElement('div'); t.textContent = m.body; div.appendChild(t); }
    var meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = new Date(m.date).toLocaleTimeString() + (m.kind === 'auto-reply' ? ' · automatic reply' : '');
    if (m.channel === 'rcs') {
      var tag = document.createElement('span'); tag.className = 'channel'; tag.textContent = ' · RCS from ' + m.business; meta.appendChild(tag);
    }
    div.appendChild(meta);
    thread.appendChild(div);
    thread.scrollTop = thread.scrollHeight;
  }

  function loadThread() {
    seen = {};
    thread.textContent = '';
    $('peer').textContent = business() || 'No number selected';
    $('me').textContent = 'You are ' + handset();
    if (!handset() || !business()) return;
    fetch(handsetPath() + '/thread')
      .then(function (r) { return r.json(); })
      .then(function (page) {
        var mine = page.messages.filter(inThread);
        if (mine.length === 0) {
          var p = document.createElement('p'); p.className = 'empty'; p.textContent = 'No messages yet. Say hello.'; thread.appendChild(p);
        }
        mine.forEach(bubble);
      });
  }

  function readFile(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve({ contentType: file.type || 'application/octet-stream', base64: String(reader.result).split(',')[1] || '' }); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsDataURL(file);
    });
  }

  $('compose').addEventListener('submit', function (event) {
    event.preventDefault();
    var text = $('text').value, files = Array.prototype.slice.call($('files').files, 0, 10);
    if (!handset() || !business() || (!text.trim() && files.length === 0)) return;
    $('send').disabled = true;
    $('status').textContent = 'Sending…';
    remember(handset());
    Promise.all(files.map(readFile)).then(function (media) {
      return fetch(handsetPath() + '/messages', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(Object.assign({ to: business(), body: text, media: media },
          channel() === 'whatsapp' && $('profile').value.trim() ? { profileName: $('profile').value.trim() } : {}))
      });
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) { $('status').textContent = 'Not sent: ' + res.body.error; return; }
        $('text').value = ''; $('files').value = '';
        var w = res.body.webhook;
        $('status').textContent = !w ? 'Delivered (no webhook configured)'
          : w.fallbackUsed ? 'Webhook failed (' + (w.error || w.status) + '); fallback answered ' + (w.fallback.status || w.fallback.error)
          : w.error ? 'Webhook failed: ' + w.error : 'Webhook answered ' + w.status;
      })
      .catch(function (err) { $('status').textContent = 'Not sent: ' + err; })
      .then(function () { $('send').disabled = false; });
  });
  $('text').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('compose').requestSubmit(); }
  });
  handsetInput.addEventListener('change', function () { var before = channel(); normalize(); if (channel() !== before) renderBusinesses(); else loadThread(); });
  channelSelect.addEventListener('change', function () { normalize(); renderBusinesses(); });
  businessSelect.addEventListener('change', loadThread);
  $('reload').addEventListener('click', loadNumbers);

  var events = new EventSource('/_emulator/events');
  events.addEventListener('open', function () { $('connection').textContent = 'Live: new messages appear as they arrive.'; loadThread(); });
  events.addEventListener('error', function () { $('connection').textContent = 'Live events disconnected; retrying…'; });
  events.addEventListener('handset', function (e) {
    var m = JSON.parse(e.data);
    if (inThread(m)) bubble(m);
  });

  renderRecent();
  normalize();
  loadNumbers();
})();
</script>
</body>
</html>
`;

export function registerPhonePage(app: FastifyInstance): void {
  const serve = async (_req: unknown, reply: FastifyReply) =>
    reply.type('text/html; charset=utf-8').send(PAGE);
  app.get('/', serve);
  app.get('/phone', serve);
}
