// Prometheus text format → per-model series, and the charts of the Live view (drawn on canvas, no library).

/** Parses Prometheus text exposition into [{ name, labels: {..}, value }]. */
export function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) {
      continue;
    }
    const labels = {};
    const labelText = match[2] ?? '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let label;
    while ((label = labelPattern.exec(labelText)) !== null) {
      labels[label[1]] = label[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    const value = match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3]);
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

/**
 * What the Live view needs from one scrape, per model: images (counter), request-duration histogram buckets (summed
 * over rpc, protocol and status), queue depth (gauge) and batch-size sum and count.
 */
export function snapshot(samples, time) {
  const models = new Map();
  const get = (model) => {
    if (!models.has(model)) {
      models.set(model, { images: 0, buckets: new Map(), requests: 0, queue: 0, batchSum: 0, batchCount: 0 });
    }
    return models.get(model);
  };
  for (const s of samples) {
    const model = s.labels.model;
    if (!model) {
      continue;
    }
    switch (s.name) {
      case 'gan_images_total': get(model).images += s.value; break;
      case 'gan_request_duration_seconds_bucket': {
        const m = get(model);
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        m.buckets.set(le, (m.buckets.get(le) ?? 0) + s.value);
        break;
      }
      case 'gan_request_duration_seconds_count': get(model).requests += s.value; break;
      case 'gan_queue_images': get(model).queue += s.value; break;
      case 'gan_batch_size_sum': get(model).batchSum += s.value; break;
      case 'gan_batch_size_count': get(model).batchCount += s.value; break;
      default: break;
    }
  }
  return { time, models };
}

/** The q-quantile of the requests between two cumulative histograms (linear inside a bucket, as PromQL's histogram_quantile). */
export function quantile(q, before, after) {
  const bounds = [...after.keys()].sort((x, y) => x - y);
  const counts = bounds.map((le) => (after.get(le) ?? 0) - (before?.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (!(total > 0)) {
    return null;
  }
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] >= rank) {
      if (bounds[i] === Infinity) {
        return i > 0 ? bounds[i - 1] : null;
      }
      const lower = i > 0 ? bounds[i - 1] : 0;
      const below = i > 0 ? counts[i - 1] : 0;
      const inBucket = counts[i] - below;
      return inBucket > 0 ? lower + ((bounds[i] - lower) * (rank - below)) / inBucket : bounds[i];
    }
  }
  return null;
}

/** One point per model from two consecutive snapshots. */
export function rates(previous, current) {
  const seconds = (current.time - previous.time) / 1000;
  const points = new Map();
  for (const [model, now] of current.models) {
    const before = previous.models.get(model);
    const images = before ? now.images - before.images : 0;
    const batches = before ? now.batchCount - before.batchCount : 0;
    const p50 = quantile(0.5, before?.buckets, now.buckets);
    const p99 = quantile(0.99, before?.buckets, now.buckets);
    points.set(model, {
      throughput: seconds > 0 && before ? Math.max(0, images) / seconds : 0,
      p50: before && p50 !== null ? p50 * 1000 : null,
      p99: before && p99 !== null ? p99 * 1000 : null,
      queue: now.queue,
      batch: batches > 0 ? (now.batchSum - before.batchSum) / batches : null,
    });
  }
  return points;
}

const PALETTE = ['#1b6ac9', '#d1495b', '#2a9d4b', '#e09f3e', '#7b4fc4', '#00798c', '#9c6644', '#555555'];

/** A stable colour per model name. */
export function colour(models, model) {
  const index = [...models].sort().indexOf(model);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
}

/**
 * Draws lines over time on a canvas: `series` is [{ colour, dashed, points: [{ t, v }] }], t in ms, v null for a gap.
 * The x axis is the last `windowMs`; the y axis starts at 0 and fits the largest value.
 */
export function drawChart(canvas, series, now, windowMs, unit) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const left = 44;
  const bottom = height - 18;
  const top = 8;
  const right = width - 8;
  let max = 0;
  let count = 0;
  for (const s of series) {
    for (const p of s.points) {
      if (p.v !== null && p.t >= now - windowMs) {
        max = Math.max(max, p.v);
        count++;
      }
    }
  }
  max = max > 0 ? niceCeiling(max) : 1;
  g.strokeStyle = '#ccc';
  g.fillStyle = '#555';
  g.font = '11px system-ui, sans-serif';
  g.lineWidth = 1;
  g.setLineDash([]);
  for (let i = 0; i <= 4; i++) {
    const y = bottom - ((bottom - top) * i) / 4;
    g.beginPath();
    g.moveTo(left, y);
    g.lineTo(right, y);
    g.stroke();
    g.fillText(formatTick((max * i) / 4), 2, y + 4);
  }
  g.textAlign = 'left';
  g.fillText(`−${Math.round(windowMs / 60000)} min`, left, height - 4);
  g.textAlign = 'right';
  g.fillText(unit ? `now · ${unit}` : 'now', right, height - 4);
  g.textAlign = 'left';
  const x = (t) => left + ((right - left) * (t - (now - windowMs))) / windowMs;
  const y = (v) => bottom - ((bottom - top) * v) / max;
  for (const s of series) {
    g.strokeStyle = s.colour;
    g.lineWidth = 2;
    g.setLineDash(s.dashed ? [5, 4] : []);
    g.beginPath();
    let pen = false;
    let last = null;
    for (const p of s.points) {
      if (p.t < now - windowMs || p.v === null) {
        pen = false;
        continue;
      }
      if (pen) {
        g.lineTo(x(p.t), y(p.v));
      } else {
        g.moveTo(x(p.t), y(p.v));
        pen = true;
      }
      last = p;
    }
    g.stroke();
    // The newest value as a dot, so a series of one point shows too.
    if (last) {
      g.setLineDash([]);
      g.fillStyle = s.colour;
      g.beginPath();
      g.arc(x(last.t), y(last.v), s.dashed ? 2.5 : 3.5, 0, 2 * Math.PI);
      g.fill();
    }
  }
  canvas.dataset.points = String(count);
  canvas.dataset.max = String(max);
}

function niceCeiling(v) {
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (v <= step * power) {
      return step * power;
    }
  }
  return 10 * power;
}

function formatTick(v) {
  return v >= 100 ? String(Math.round(v)) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
}
