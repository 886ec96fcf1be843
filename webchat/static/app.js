// gonbchat webchat: the page's only script (no build step, no dependency).
// The server renders every message to safe HTML; this script streams replies into the page,
// and sends the buttons' actions. URLs are relative, so the page works behind a path prefix.
'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var log = $('log'), form = $('composer'), input = $('input'), status = $('status');
  var btn = { send: $('send'), stop: $('stop'), retry: $('retry'), undo: $('undo'), clear: $('clear') };
  var csrf = document.querySelector('meta[name="gonbchat-csrf"]').content;
  // The lines this script says, in the page's language (the server's catalog).
  var text = { noQuestion: 'There is no question to ask again yet.', unreachable: 'The server cannot be reached; is it still running?',
    lost: 'The connection ended before the reply did.', errorStatus: 'Error %d.' };
  try {
    var given = JSON.parse(document.querySelector('meta[name="gonbchat-text"]').content);
    Object.keys(text).forEach(function (k) { if (typeof given[k] === 'string' && given[k]) text[k] = given[k]; });
  } catch (e) { /* keep English */ }
  var busy = false, composing = false, stick = true;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function say(line) { status.textContent = line || ''; }

  function setBusy(b) {
    busy = b;
    btn.stop.disabled = !b;
    ['send', 'retry', 'undo', 'clear'].forEach(function (k) { btn[k].disabled = b; });
    document.querySelectorAll('.chip').forEach(function (c) { c.disabled = b; });
    log.setAttribute('aria-busy', b ? 'true' : 'false');
  }

  // Follow the reply as it grows, unless the visitor scrolled up to read.
  log.addEventListener('scroll', function () {
    stick = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
  });
  function scroll(force) {
    if (force) stick = true;
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function userBubble(text) {
    var d = el('div', 'msg user');
    d.appendChild(el('div', 'text', text));
    log.appendChild(d);
    return d;
  }

  function botBubble() {
    var d = el('div', 'msg bot streaming');
    var md = el('div', 'md');
    var tail = el('div', 'tail');
    tail.appendChild(el('span', 'typing', '…'));
    md.appendChild(tail);
    d.appendChild(md);
    d.setAttribute('aria-busy', 'true');
    d.dataset.n = '0';
    log.appendChild(d);
    return d;
  }

  function post(path, body) {
    return fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'X-Gonbchat-Csrf': csrf },
      body: JSON.stringify(body || {})
    });
  }

  function errorOf(res) {
    return res.json().then(function (j) {
      return (j && j.error) || text.errorStatus.replace('%d', res.status);
    }, function () { return text.errorStatus.replace('%d', res.status + ' ' + res.statusText); });
  }

  // A progress event: committed blocks from index k (each sent once), and the open tail.
  function progress(bot, ev) {
    var md = bot.querySelector('.md'), tail = md.lastElementChild;
    var n = +bot.dataset.n;
    (ev.b || []).forEach(function (h, i) {
      if (ev.k + i === n) { tail.insertAdjacentHTML('beforebegin', h); n++; }
    });
    bot.dataset.n = String(n);
    if ('t' in ev) tail.innerHTML = ev.t;
  }

  // The last event: the final render replaces the streamed one.
  function finish(bot, ev) {
    bot.querySelector('.md').innerHTML = ev.html || '';
    bot.classList.remove('streaming');
    bot.removeAttribute('aria-busy');
    if (ev.partial) bot.classList.add('partial');
    if (ev.error) bot.classList.add('failed');
    var line = ev.error || ev.note;
    if (line) bot.appendChild(el('p', 'note', '⚠ ' + line));
  }

  // stream posts and applies the reply's JSON lines to bot. It resolves to the last event,
  // or {rejected: true, error} when the server refused the request.
  function stream(path, body, bot) {
    return post(path, body).then(function (res) {
      if (!res.ok) {
        return errorOf(res).then(function (e) { return { rejected: true, status: res.status, error: e }; });
      }
      var reader = res.body.getReader(), dec = new TextDecoder(), buf = '', last = null;
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) return last || { lost: true, error: text.lost };
          buf += dec.decode(r.value, { stream: true });
          var i;
          while ((i = buf.indexOf('\n')) >= 0) {
            var line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line) continue;
            var ev = JSON.parse(line);
            if (ev.done) last = ev; else progress(bot, ev);
            scroll();
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      return { lost: true, error: text.unreachable };
    });
  }

  function reloadLog() {
    return fetch('api/log', { credentials: 'same-origin', cache: 'no-store' }).then(function (res) {
      return res.ok ? res.json() : null;
    }).then(function (j) {
      if (j && typeof j.log === 'string') { log.innerHTML = j.log; scroll(true); }
    }, function () {});
  }

  function send(text) {
    text = (text || '').trim();
    if (!text || busy) return;
    setBusy(true);
    say('');
    input.value = '';
    var u = userBubble(text), bot = botBubble();
    scroll(true);
    stream('api/send', { text: text }, bot).then(function (ev) {
      if (ev.rejected) {
        u.remove();
        bot.remove();
        if (!input.value) input.value = text; // nothing is lost
        say(ev.error);
      } else {
        finish(bot, ev);
        if (ev.lost) reloadLog();
      }
      setBusy(false);
      scroll();
    });
  }

  function retry() {
    if (busy) return;
    var users = log.querySelectorAll('.msg.user');
    if (!users.length) { say(text.noQuestion); return; }
    setBusy(true);
    say('');
    var last = users[users.length - 1], removed = [];
    while (last.nextSibling) { removed.push(last.nextSibling); last.nextSibling.remove(); }
    var bot = botBubble();
    scroll(true);
    stream('api/retry', {}, bot).then(function (ev) {
      if (ev.rejected) {
        bot.remove();
        removed.forEach(function (n) { log.appendChild(n); });
        say(ev.error);
      } else {
        finish(bot, ev);
        if (ev.lost) reloadLog();
      }
      setBusy(false);
    });
  }

  // Undo and Clear answer with the whole conversation, which replaces the page's.
  function action(path) {
    if (busy) return;
    setBusy(true);
    say('');
    post(path).then(function (res) {
      if (!res.ok) return errorOf(res).then(say);
      return res.json().then(function (j) { log.innerHTML = j.log; scroll(true); });
    }).catch(function () {
      say(text.unreachable);
    }).then(function () { setBusy(false); });
  }

  btn.stop.addEventListener('click', function () {
    post('api/stop').catch(function () {});
  });
  btn.retry.addEventListener('click', retry);
  btn.undo.addEventListener('click', function () { action('api/undo'); });
  btn.clear.addEventListener('click', function () { action('api/clear'); });
  document.querySelectorAll('.chip').forEach(function (c) {
    c.addEventListener('click', function () { send(c.textContent); });
  });

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    send(input.value);
  });

  // Enter sends, Shift+Enter is a new line. While an input method composes (Chinese,
  // Japanese…), Enter picks the candidate and must not send: isComposing, and keyCode 229,
  // which some browsers give to the Enter that ends a composition.
  input.addEventListener('compositionstart', function () { composing = true; });
  input.addEventListener('compositionend', function () { composing = false; });
  input.addEventListener('keydown', function (e) {
    if (e.key !== 'Enter' || e.shiftKey) return;
    if (e.isComposing || composing || e.keyCode === 229) return;
    e.preventDefault();
    send(input.value);
  });

  setBusy(false);
  scroll(true);
})();
