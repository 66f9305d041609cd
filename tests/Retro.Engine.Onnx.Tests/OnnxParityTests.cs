using Retro.Engine.Checkpoints;
using Retro.Engine.Generation;
using Retro.Engine.Sampling;
using Retro.Engine.Tests.Retro;
using Retro.Engine.Tests.Support;
using Retro.Tokenizers;

namespace Retro.Engine.Onnx.Tests;

/// <summary>
/// ONNX Runtime (CPU execution provider) running the committed exports of the fixture models (tests/fixtures/*/onnx,
/// written by src/training/export_onnx.py) against the PyTorch goldens of the same folders: BERT embeddings and
/// cross-encoder scores, the decoder's logits step by step and in prefill segments, with and without neighbours,
/// with cca_positions "rope" (retro-tiny) and "none" (trained-smoke/retro), and greedy decoding token for token.
/// </summary>
public sealed class OnnxParityTests
{
    private const double Fp32Tolerance = 1e-4; // docs/model-format.md, "Fixtures"

    private static readonly OnnxSessionFactory Cpu = new(OnnxDevice.Cpu, threads: 1);

    private static (SafetensorsFile Golden, Func<string, float[]> F, Func<string, int[]> I) Golden(string fixture)
    {
        var golden = SafetensorsFile.Open(Path.Combine(RepoPaths.Fixture(fixture), "golden.safetensors"));
        return (golden, n => golden.Get(n).ToFloatArray(), n => golden.Get(n).ToInt32Array());
    }

    private static List<ModelInput> Inputs(int[] ids, int[] mask, int[] types, int rows)
    {
        int length = ids.Length / rows;
        var inputs = new List<ModelInput>();
        for (int b = 0; b < rows; b++)
            inputs.Add(new ModelInput(ids.AsSpan(b * length, length).ToArray(), types.AsSpan(b * length, length).ToArray(), mask.AsSpan(b * length, length).ToArray()));
        return inputs;
    }

    [Fact]
    public void Bi_encoder_embeddings_match_the_reference()
    {
        var (golden, f, i) = Golden("bert-tiny");
        using var _ = golden;
        using var encoder = OnnxTextEncoder.Load(RepoPaths.Fixture("bert-tiny"), Cpu);
        var expected = f("embeddings");
        int rows = expected.Length / encoder.Dimension;
        var actual = new float[expected.Length];
        encoder.Encode(Inputs(i("input_ids"), i("attention_mask"), i("token_type_ids"), rows), actual);
        ParityAssert.Close("embeddings", expected, actual, encoder.Dimension, Fp32Tolerance, "text", "channel");
    }

    [Fact]
    public void Bi_encoder_embeds_texts_as_the_managed_engine_tokenizes_them()
    {
        var (golden, f, _) = Golden("bert-tiny");
        using var __ = golden;
        var texts = System.Text.Json.JsonSerializer.Deserialize<string[]>(golden.Metadata["texts"])!;
        using var encoder = OnnxTextEncoder.Load(RepoPaths.Fixture("bert-tiny"), Cpu);
        var actual = new float[texts.Length * encoder.Dimension];
        encoder.Encode(texts, actual);
        ParityAssert.Close("embeddings of the golden texts", f("embeddings"), actual, encoder.Dimension, Fp32Tolerance, "text", "channel");
    }

    [Fact]
    public void Cross_encoder_scores_match_the_reference()
    {
        var (golden, f, i) = Golden("cross-tiny");
        using var _ = golden;
        using var reranker = OnnxReranker.Load(RepoPaths.Fixture("cross-tiny"), Cpu);
        var expected = f("scores");
        var actual = new float[expected.Length];
        reranker.Score(Inputs(i("input_ids"), i("attention_mask"), i("token_type_ids"), expected.Length), actual);
        ParityAssert.Close("scores", expected, actual, 1, Fp32Tolerance, "pair", "column");
    }

    /// <summary>Neighbours of chunk u from a (U, k, r) table, -1 padded.</summary>
    private static IReadOnlyList<int[]> Chunk(int[] table, int u, int k, int r)
    {
        var list = new int[k][];
        for (int j = 0; j < k; j++) list[j] = table.AsSpan((u * k + j) * r, r).ToArray();
        return list;
    }

    [Theory]
    [InlineData("retro-tiny", true)]
    [InlineData("retro-tiny", false)]
    [InlineData("trained-smoke/retro", true)]
    [InlineData("trained-smoke/retro", false)]
    public void Decoder_steps_match_the_full_forward_reference(string fixture, bool withNeighbours)
    {
        var (golden, f, i) = Golden(fixture);
        using var _ = golden;
        using var decoder = OnnxRetroDecoder.Load(RepoPaths.Fixture(fixture), Cpu);
        int[] tokens = i("tokens");
        var shape = golden.Get("neighbours").Shape;
        int[] table = i("neighbours");
        float[] expected = f(withNeighbours ? "logits" : "closed_book_logits");
        int m = decoder.ChunkSize, v = decoder.VocabularySize;
        using var session = decoder.CreateSession();
        var logits = new float[tokens.Length * v];
        for (int p = 0; p < tokens.Length; p++)
        {
            bool completes = (p + 1) % m == 0;
            int u = (p + 1) / m - 1;
            var nb = withNeighbours && completes && u < shape[1] ? Chunk(table, u, shape[2], shape[3]) : [];
            session.Feed(tokens.AsSpan(p, 1), nb, logits.AsSpan(p * v, v));
        }
        ParityAssert.Close($"{fixture} {(withNeighbours ? "logits" : "closed_book_logits")} (steps)", expected, logits, v, Fp32Tolerance);
    }

    [Theory]
    [InlineData("retro-tiny")]
    [InlineData("trained-smoke/retro")]
    public void Decoder_prefill_segments_match_the_reference(string fixture)
    {
        var (golden, f, i) = Golden(fixture);
        using var _ = golden;
        using var decoder = OnnxRetroDecoder.Load(RepoPaths.Fixture(fixture), Cpu);
        int[] tokens = i("tokens");
        var shape = golden.Get("neighbours").Shape;
        float[] expected = f("logits");
        int m = decoder.ChunkSize, v = decoder.VocabularySize;
        using var session = decoder.CreateSession();
        var logits = new float[v];
        int fed = 0, segments = 0;
        while (fed < tokens.Length)
        {
            // up to and including the next token that completes a chunk (only the last of a feed may)
            int end = Math.Min(tokens.Length, (fed / m + 1) * m);
            if ((fed + 1) % m == 0) end = fed + 1;
            int u = end / m - 1;
            var nb = end % m == 0 && u < shape[1] ? Chunk(i("neighbours"), u, shape[2], shape[3]) : [];
            session.Feed(tokens.AsSpan(fed, end - fed), nb, logits);
            ParityAssert.Close($"{fixture} logits after a prefill of positions {fed}..{end - 1}", expected.AsSpan((end - 1) * v, v), logits, v, Fp32Tolerance);
            fed = end;
            segments++;
        }
        segments.ShouldBe(tokens.Length / m + 1); // one per chunk, the last partial
    }

    [Fact]
    public void Greedy_decoding_equals_the_reference_token_for_token()
    {
        var (golden, f, i) = Golden("retro-tiny");
        using var _ = golden;
        using var decoder = OnnxRetroDecoder.Load(RepoPaths.Fixture("retro-tiny"), Cpu);
        int[] prompt = i("greedy_prompt"), expected = i("greedy_tokens");
        float[] stepLogits = f("greedy_step_logits");
        var shape = golden.Get("greedy_neighbours").Shape;
        int[] table = i("greedy_neighbours");
        int m = decoder.ChunkSize, v = decoder.VocabularySize;
        using var session = decoder.CreateSession();
        var logits = new float[v];
        session.Feed(prompt.AsSpan(0, prompt.Length - 1), [], logits);
        var sampler = new Sampler(v, SamplingOptions.Greedy);
        int token = prompt[^1];
        for (int t = 0; t < expected.Length; t++)
        {
            int p = session.Length, u = (p + 1) / m - 1;
            var nb = (p + 1) % m == 0 && u < shape[0] ? Chunk(table, u, shape[1], shape[2]) : [];
            session.Feed([token], nb, logits);
            ParityAssert.Close($"greedy_step_logits[{t}]", stepLogits.AsSpan(t * v, v), logits, v, Fp32Tolerance);
            token = sampler.Sample(logits, []);
            token.ShouldBe(expected[t], $"greedy token {t}");
        }
    }

    [Fact]
    public void Batched_steps_equal_each_session_stepped_alone()
    {
        var (golden, _, i) = Golden("retro-tiny");
        using var __ = golden;
        string folder = RepoPaths.Fixture("retro-tiny");
        using var decoder = OnnxRetroDecoder.Load(folder, Cpu);
        int[] tokens = i("tokens");
        var shape = golden.Get("neighbours").Shape;
        int m = decoder.ChunkSize, v = decoder.VocabularySize;
        // three sessions at different lengths; the first's next token completes chunk 0 (its neighbours are encoded in the batch)
        int[] starts = [m - 1, 2 * m + 3, 5];
        var alone = new List<OnnxRetroSession>();
        var batched = new List<OnnxRetroSession>();
        var scratch = new float[v];
        foreach (int start in starts)
        {
            foreach (var list in new[] { alone, batched })
            {
                var s = (OnnxRetroSession)decoder.CreateSession();
                for (int p = 0; p < start; p++)
                {
                    var nb = (p + 1) % m == 0 ? Chunk(i("neighbours"), (p + 1) / m - 1, shape[2], shape[3]) : [];
                    s.Feed(tokens.AsSpan(p, 1), nb, scratch);
                }
                list.Add(s);
            }
        }
        int k = shape[2], r = shape[3];
        var neighbours = starts.Select(p => (p + 1) % m == 0 ? Chunk(i("neighbours"), (p + 1) / m - 1, k, r) : null).ToArray();
        var segments = starts.Select(p => (ReadOnlyMemory<int>)tokens.AsMemory(p, 1)).ToArray();
        var expected = new float[starts.Length * v];
        for (int b = 0; b < starts.Length; b++) alone[b].Feed(segments[b].Span, neighbours[b] ?? [], expected.AsSpan(b * v, v));
        using var runner = new OnnxSegmentBatchRunner(decoder, capacity: 4);
        var actual = new float[starts.Length * v];
        runner.Run(batched, segments, neighbours, actual);
        ParityAssert.Close("batched step logits", expected, actual, v, 1e-5, "session");
        for (int b = 0; b < starts.Length; b++) batched[b].Length.ShouldBe(starts[b] + 1);
        // and the next step, unbatched, still agrees: the batch wrote each session's cache rows where they belong
        for (int b = 0; b < starts.Length; b++)
        {
            int p = starts[b] + 1;
            var nb = (p + 1) % m == 0 ? Chunk(i("neighbours"), (p + 1) / m - 1, shape[2], shape[3]) : [];
            var a = new float[v];
            var c = new float[v];
            alone[b].Feed(tokens.AsSpan(p, 1), nb, a);
            batched[b].Feed(tokens.AsSpan(p, 1), nb, c);
            ParityAssert.Close($"session {b}'s step after the batch", a, c, v, 1e-5);
        }
        foreach (var s in alone.Concat(batched)) s.Dispose();
    }

    [Fact]
    public async Task Concurrent_sessions_batch_through_the_step_batcher_and_decode_as_alone()
    {
        var (golden, _, i) = Golden("retro-tiny");
        using var __ = golden;
        using var decoder = OnnxRetroDecoder.Load(RepoPaths.Fixture("retro-tiny"), Cpu, batchCapacity: 4);
        using var alone = OnnxRetroDecoder.Load(RepoPaths.Fixture("retro-tiny"), Cpu);
        int[] prompt = i("greedy_prompt");
        int v = decoder.VocabularySize;
        int[] Decode(IRetroDecoder d, int offset, Barrier? start = null)
        {
            using var s = d.CreateSession();
            start?.SignalAndWait(TimeSpan.FromSeconds(30));
            var logits = new float[v];
            s.Feed(prompt.AsSpan(offset), [], logits);
            var sampler = new Sampler(v, SamplingOptions.Greedy);
            var output = new int[70];
            for (int t = 0; t < output.Length; t++)
            {
                output[t] = sampler.Sample(logits, []);
                s.Feed([output[t]], [], logits);
            }
            return output;
        }
        var expected = Enumerable.Range(0, 4).Select(o => Decode(alone, o)).ToArray();
        // Dedicated threads released together: pool tasks can run one after another when other test assemblies
        // keep the pool busy, and then no step has a peer to batch with.
        using var start = new Barrier(4);
        var tasks = Enumerable.Range(0, 4).Select(o => Task.Factory.StartNew(() => Decode(decoder, o, start), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        var results = await Task.WhenAll(tasks);
        for (int o = 0; o < 4; o++) results[o].ShouldBe(expected[o], $"session {o}");
        var (steps, batches) = decoder.BatchCounts;
        steps.ShouldBeGreaterThan(batches, "some steps ran together");
    }
}
