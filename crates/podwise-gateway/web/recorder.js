// Microphone recording as a WAV file. Browsers record Opus (WebM or Ogg) with
// MediaRecorder, which the STT service cannot decode, so the samples are taken from the
// Web Audio graph instead and written as 16-bit PCM.

import { t } from './i18n.js';

/** The longest recording kept; the recorder stops itself there. */
const MAX_SECONDS = 60;

/**
 * Starts recording from the microphone and answers `{stop}`, whose promise gives the
 * WAV blob. `onLimit` is called when the recording reaches its longest.
 */
export async function startRecording(onLimit) {
  // Browsers offer the microphone (and audio worklets) only to pages from HTTPS or this
  // machine itself, which is worth saying apart from a browser that has none.
  if (!window.isSecureContext) throw new Error(t('ask.needs_https'));
  if (!navigator.mediaDevices?.getUserMedia || typeof AudioWorkletNode === 'undefined') {
    throw new Error(t('ask.no_microphone'));
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  const context = new AudioContext();
  await context.audioWorklet.addModule(new URL('./pcm-worklet.js', import.meta.url));
  const source = context.createMediaStreamSource(stream);
  const capture = new AudioWorkletNode(context, 'pcm-capture');
  const chunks = [];
  let flushed;
  const done = new Promise((resolve) => { flushed = resolve; });
  capture.port.onmessage = ({ data }) => {
    if (data === 'flushed') flushed();
    else chunks.push(data);
  };
  source.connect(capture);
  // A node the graph does not pull is not run; its output is silence.
  capture.connect(context.destination);
  const limit = setTimeout(onLimit, MAX_SECONDS * 1000);

  return {
    async stop() {
      clearTimeout(limit);
      capture.port.postMessage('flush');
      await done;
      for (const track of stream.getTracks()) track.stop();
      source.disconnect();
      capture.disconnect();
      const rate = context.sampleRate;
      await context.close();
      return wav(chunks, rate);
    },
  };
}

/** Mono float samples as a 16-bit PCM WAV file. */
function wav(chunks, rate) {
  const count = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const bytes = new DataView(new ArrayBuffer(44 + count * 2));
  const text = (at, value) => [...value].forEach((c, i) => bytes.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  bytes.setUint32(4, 36 + count * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  bytes.setUint32(16, 16, true);
  bytes.setUint16(20, 1, true);
  bytes.setUint16(22, 1, true);
  bytes.setUint32(24, rate, true);
  bytes.setUint32(28, rate * 2, true);
  bytes.setUint16(32, 2, true);
  bytes.setUint16(34, 16, true);
  text(36, 'data');
  bytes.setUint32(40, count * 2, true);
  let at = 44;
  for (const chunk of chunks) {
    for (const sample of chunk) {
      const clamped = Math.max(-1, Math.min(1, sample));
      bytes.setInt16(at, clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff, true);
      at += 2;
    }
  }
  return new Blob([bytes], { type: 'audio/wav' });
}
