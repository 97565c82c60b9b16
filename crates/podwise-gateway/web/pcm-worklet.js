// Runs in the audio thread: copies the microphone's first channel out in batches, and
// sends what is left when asked to flush, so the recording loses no samples at its end.

const BATCH = 8192;

class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.batch = new Float32Array(BATCH);
    this.filled = 0;
    this.port.onmessage = ({ data }) => {
      if (data !== 'flush') return;
      if (this.filled > 0) this.port.postMessage(this.batch.slice(0, this.filled));
      this.filled = 0;
      this.port.postMessage('flushed');
    };
  }

  process(inputs) {
    const samples = inputs[0]?.[0];
    if (!samples) return true;
    for (let i = 0; i < samples.length; i += 1) {
      this.batch[this.filled] = samples[i];
      this.filled += 1;
      if (this.filled === BATCH) {
        this.port.postMessage(this.batch.slice());
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('pcm-capture', PcmCapture);
