/**
 * How a new offer gets an agent's attention when they are looking elsewhere: a short chime
 * and the tab's title. (The offer card itself is announced to screen readers.)
 */

let audio: AudioContext | null = null;

export function chime(): void {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    for (const [i, frequency] of [880, 1320].entries()) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.18 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.16);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(now + i * 0.18);
      oscillator.stop(now + i * 0.18 + 0.17);
    }
  } catch {
    // No audio output (or the browser refused it before any click): the card still shows.
  }
}

/** The tab title carries the number of pending offers, e.g. "(1) Parley". */
export function showOfferCount(count: number): void {
  document.title = count > 0 ? `(${count}) New offer · Parley` : 'Parley';
}
