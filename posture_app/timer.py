"""A self-timer for Streamlit's camera widget: count down 5 or 10 s, then press its shutter.

The person props the phone up and steps back 2–3 m, so the count-down is shown big over the
whole page, beeped (Web Audio) and spoken (speech synthesis, last three seconds). It runs in
a small component frame, which may reach the page because Streamlit's component frames
share its origin; nothing leaves the browser.
"""

from __future__ import annotations

import json

import streamlit.components.v1 as components

_HTML = """
<div style="font-family:system-ui,sans-serif;display:flex;gap:8px;align-items:center;
flex-wrap:wrap;color:#31333f">
<span style="font-size:14px">Self-timer:</span>
<button data-s="5" class="t">⏱️ 5 s</button><button data-s="10" class="t">⏱️ 10 s</button>
<button id="x" style="display:none">Cancel</button>
<span id="c" role="status" aria-live="assertive" style="font-size:14px"></span></div>
<style>button{font-size:15px;padding:6px 12px;border-radius:8px;border:1px solid #bbb;
background:#fff;cursor:pointer}</style>
<script>
(function(){
const doc = window.parent.document, status = document.getElementById('c'),
      cancel = document.getElementById('x'), SHUTTER = __SHUTTER__;
let ctx = null, timer = null, big = null;
function beep(freq, secs){
  try { ctx = ctx || new (window.AudioContext || window.webkitAudioContext)();
    const o = ctx.createOscillator(), g = ctx.createGain();
    o.frequency.value = freq; g.gain.value = 0.25; o.connect(g); g.connect(ctx.destination);
    o.start(); o.stop(ctx.currentTime + secs); } catch (e) {}
}
function say(text){
  try { window.speechSynthesis.cancel();
    window.speechSynthesis.speak(new SpeechSynthesisUtterance(text)); } catch (e) {}
}
function show(text){
  status.textContent = text;
  if (!big) { big = doc.createElement('div'); big.id = 'posture-self-timer';
    big.setAttribute('aria-hidden', 'true');
    big.style.cssText = 'position:fixed;inset:0;display:flex;align-items:center;' +
      'justify-content:center;font:700 40vmin system-ui,sans-serif;color:#fff;' +
      'text-shadow:0 0 24px #000;pointer-events:none;z-index:999999';
    doc.body.appendChild(big); }
  big.textContent = text;
}
function done(){ if (big) { big.remove(); big = null; } cancel.style.display = 'none'; }
function shutter(){
  const cam = doc.querySelector('[data-testid="stCameraInput"]');
  if (!cam) return false;
  const btn = Array.from(cam.querySelectorAll('button'))
    .find(b => SHUTTER.test(b.innerText || b.getAttribute('aria-label') || ''));
  if (!btn || btn.disabled) return false;
  btn.click(); return true;
}
function start(n){
  if (timer) clearInterval(timer);
  let left = n; show(String(left)); beep(660, 0.12); say(n + ' seconds');
  cancel.style.display = '';
  timer = setInterval(function(){
    left -= 1;
    if (left > 0) { show(String(left)); beep(660, 0.12); if (left <= 3) say(String(left)); return; }
    clearInterval(timer); timer = null; beep(990, 0.4); done();
    status.textContent = shutter() ? 'Photo taken.' : 'The camera was not ready: try again.';
  }, 1000);
}
document.querySelectorAll('button.t').forEach(b =>
  b.addEventListener('click', () => start(parseInt(b.dataset.s, 10))));
cancel.addEventListener('click', () => { if (timer) clearInterval(timer); timer = null; done();
  status.textContent = 'Cancelled.'; });
})();
</script>
"""

#: The camera widget's shutter button text (Streamlit: "Take Photo").
SHUTTER_PATTERN = "take photo"


def self_timer(height: int = 48) -> None:
    """The 5/10-second self-timer row; place it next to ``st.camera_input``."""
    pattern = "new RegExp(" + json.dumps(SHUTTER_PATTERN) + ", 'i')"
    components.html(_HTML.replace("__SHUTTER__", pattern), height=height)
