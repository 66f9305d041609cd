using System.Diagnostics;
using System.Text;
using Retro.Core;
using Retro.Core.Options;
using Retro.Eval.Data;
using Retro.Eval.Metrics;
using Retro.Eval.Running;
using Retro.Engine.Retro;
using Retro.Tokenizers;

namespace Retro.Eval.Tasks;

/// <summary>
/// Bits-per-byte of held-out documents. Each document is tokenized (no special tokens) and cut into windows of
/// <c>context</c> tokens (whole chunks); within a window, position p predicts token p+1 through the decoder's full
/// forward with chunk u's neighbours supplied when chunk u completes (query = chunk u's text; own document excluded
/// when configured), so token t of chunk c attends to the neighbours of chunk c−1. The first token of each window is
/// context only. Bytes are the UTF-8 bytes of the text each predicted token adds (from the tokenizer's offsets; a
/// character split across byte-level tokens is counted once). Leakage: predicted chunk c's overlap
/// (<see cref="ChunkOverlap"/>) with the neighbours of chunk c−1 (chunk plus continuation) buckets its tokens. With
/// <see cref="RetrievalOptions.NeighbourCopy"/> and a decoder that has one, token t's probability is the neighbour copy's
/// mixture (<see cref="NeighbourCopy"/>) over chunk c−1's retrieved neighbours, read or not.
/// </summary>
internal sealed class LmTask(EvalModelSet models, IRetriever retriever)
{
    /// <summary>Scores <paramref name="documents"/> in one mode; <paramref name="options"/> null = closed-book.</summary>
    public async Task<PartResult> RunAsync(IReadOnlyList<EvalDocument> documents, RetrievalOptions? options, bool excludeOwn, int context,
        IProgress<string> progress, CancellationToken ct)
    {
        var decoder = models.Decoder;
        int m = decoder.Config.ChunkSize, r = decoder.Config.NeighbourLen, v = decoder.Config.VocabSize;
        int window = context > 0 ? Math.Min(context, decoder.Config.MaxSeqLen) : decoder.Config.MaxSeqLen;
        window = Math.Max(m, window / m * m);
        int k = options?.K ?? 0;
        var copy = options is { NeighbourCopy: true } ? decoder.Config.NeighbourCopy : null;
        using var state = decoder.CreateState(Math.Max(1, k), window, logitRows: m);
        var logits = new float[m * v];
        var total = new BitsPerByte();
        var buckets = new (long Chunks, long Tokens, long Bytes, double Bits)[ChunkOverlap.BucketBounds.Length + 1]; // last = none
        var timings = new Dictionary<string, double> { ["embed"] = 0, ["search"] = 0, ["fetch"] = 0, ["rerank"] = 0, ["model"] = 0 };
        long wallStart = Stopwatch.GetTimestamp();
        int done = 0;

        foreach (var doc in documents)
        {
            ct.ThrowIfCancellationRequested();
            var encoded = models.Tokenizer.EncodeWithOffsets(doc.Text);
            int n = encoded.Count;
            var ids = new int[n];
            var bytes = TokenBytes(doc.Text, encoded, ids);
            for (int w = 0; w + 1 < n; w += window)
            {
                int len = Math.Min(window, n - w);
                int[] tokens = ids[w..(w + len)];
                // neighbours of every complete chunk whose boundary token predicts something
                int chunks = (len - 1) / m;
                var neighbours = new int[chunks][][]; // those the decoder reads (the neighbour gate's)
                var retrieved = new int[chunks][][]; // all, which the overlap buckets are measured against
                var readFlags = new bool[chunks][]; // whether the decoder reads each of those (the neighbour copy's λ depends on it)
                for (int u = 0; u < chunks; u++)
                {
                    neighbours[u] = retrieved[u] = [];
                    readFlags[u] = [];
                    if (options is null) continue;
                    var (start, end) = (encoded[w + u * m].Offsets.Start.GetOffset(doc.Text.Length), encoded[w + u * m + m - 1].Offsets.End.GetOffset(doc.Text.Length));
                    var o = excludeOwn ? options with { Filter = new SearchOptions { ExcludeDocument = doc.Id } } : options;
                    var result = await retriever.RetrieveAsync(doc.Text[start..end], o, ct);
                    timings["embed"] += result.Timings.EmbedMs;
                    timings["search"] += result.Timings.SearchMs;
                    timings["fetch"] += result.Timings.FetchMs;
                    timings["rerank"] += result.Timings.RerankMs;
                    retrieved[u] = [.. result.Neighbours.Select(nb => Truncate(nb.Chunk.NeighbourTokens(), r))];
                    var read = NeighbourGate.Read(result.Neighbours, tokens.AsSpan(u * m, m), options.MinNeighbourMatch, options.NeighbourTail);
                    neighbours[u] = ReferenceEquals(read, result.Neighbours) ? retrieved[u] : [.. read.Select(nb => Truncate(nb.Chunk.NeighbourTokens(), r))];
                    readFlags[u] = NeighbourGate.Flags(result.Neighbours, read);
                }

                var overlaps = new double[(len + m - 1) / m];
                Array.Fill(overlaps, double.NaN);
                long modelStart = Stopwatch.GetTimestamp();
                state.Reset();
                for (int b = 0; b < len; b += m)
                {
                    int blockLen = Math.Min(m, len - b);
                    decoder.Forward(state, tokens.AsSpan(b, blockLen), u => u < neighbours.Length ? neighbours[u] : null, logits);
                    for (int i = 0; i < blockLen; i++)
                    {
                        int t = b + i + 1; // predicted token (window index)
                        if (t >= len) break;
                        double bits = BitsPerByte.NegLog2Prob(logits.AsSpan(i * v, v), tokens[t]);
                        int c = t / m; // predicted chunk; attends to chunk c-1's neighbours
                        if (copy is not null && c >= 1 && c - 1 < retrieved.Length && retrieved[c - 1].Length > 0)
                            bits = NeighbourCopy.MixedBits(bits, tokens[t], copy.Propose(tokens.AsSpan(0, t), retrieved[c - 1], readFlags[c - 1]));
                        int tb = bytes[w + t];
                        total.Add(bits, tb);
                        int bucket = buckets.Length - 1;
                        if (c >= 1 && c - 1 < retrieved.Length && retrieved[c - 1].Length > 0)
                        {
                            if (double.IsNaN(overlaps[c]))
                                overlaps[c] = ChunkOverlap.Fraction(tokens.AsSpan(c * m, Math.Min(len, c * m + m) - c * m), retrieved[c - 1]);
                            bucket = ChunkOverlap.Bucket(overlaps[c]);
                        }
                        buckets[bucket].Tokens++;
                        buckets[bucket].Bytes += tb;
                        buckets[bucket].Bits += bits;
                        if (t % m == 0 || t == 1) buckets[bucket].Chunks++;
                    }
                }
                timings["model"] += Stopwatch.GetElapsedTime(modelStart).TotalMilliseconds;

            }
            progress.Report($"{++done}/{documents.Count} documents, BPB {total.Value:F4}");
        }

        var overlap = new List<OverlapBucket>();
        for (int i = 0; i < buckets.Length; i++)
        {
            string label = i < ChunkOverlap.BucketBounds.Length ? ChunkOverlap.BucketLabel(i) : "none";
            overlap.Add(new OverlapBucket(label, buckets[i].Chunks, buckets[i].Tokens, buckets[i].Bytes, buckets[i].Bits));
        }
        int docs = Math.Max(1, documents.Count);
        var perDoc = timings.ToDictionary(p => p.Key, p => p.Value / docs);
        perDoc["wall"] = Stopwatch.GetElapsedTime(wallStart).TotalMilliseconds / docs;
        return new PartResult
        {
            Task = "lm",
            Metrics = new() { ["bpb"] = total.Value, ["bits_per_token"] = total.Tokens == 0 ? double.NaN : total.Bits / total.Tokens },
            Counts = new() { ["documents"] = documents.Count, ["tokens"] = total.Tokens, ["bytes"] = total.Bytes },
            Timings = perDoc,
            Overlap = overlap,
        };
    }

    /// <summary>
    /// UTF-8 bytes each token newly covers: the bytes of its offset range not already covered by earlier tokens (so a
    /// character split across byte-level tokens counts once). Fills <paramref name="ids"/>.
    /// </summary>
    internal static int[] TokenBytes(string text, IReadOnlyList<(int Id, Range Offsets)> encoded, int[] ids)
    {
        var bytes = new int[encoded.Count];
        int covered = 0;
        for (int i = 0; i < encoded.Count; i++)
        {
            ids[i] = encoded[i].Id;
            int start = Math.Max(covered, encoded[i].Offsets.Start.GetOffset(text.Length));
            int end = encoded[i].Offsets.End.GetOffset(text.Length);
            if (end > start)
            {
                bytes[i] = Encoding.UTF8.GetByteCount(text.AsSpan(start, end - start));
                covered = end;
            }
        }
        return bytes;
    }

    private static int[] Truncate(int[] tokens, int r) => tokens.Length <= r ? tokens : tokens[..r];
}
