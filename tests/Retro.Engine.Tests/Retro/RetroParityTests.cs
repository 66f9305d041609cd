using Retro.Engine.Checkpoints;
using Retro.Engine.Retro;
using Retro.Engine.Sampling;

namespace Retro.Engine.Tests.Retro;

/// <summary>
/// The decoder against the PyTorch reference's goldens (tests/fixtures/retro-tiny, written by
/// src/training/fixtures.py): full forward with and without neighbours, E_0, and greedy decoding token for token
/// across chunk boundaries with changing neighbours. BF16 weights are held to the bf16 tolerance.
/// </summary>
public sealed class RetroParityTests : IDisposable
{
    private const double Fp32Tolerance = 1e-4; // docs/model-format.md, "Fixtures"
    private const double Bf16Tolerance = 1e-2;
    private const double F16Tolerance = 2e-3; // 11-bit significand: 8x finer than bf16

    private readonly IBackend _backend = TestBackends.Cpu();
    private readonly SafetensorsFile _golden = SafetensorsFile.Open(Path.Combine(Fixtures.Folder("retro-tiny"), "golden.safetensors"));

    public void Dispose()
    {
        _golden.Dispose();
        _backend.Dispose();
    }

    private float[] F(string name) => _golden.Get(name).ToFloatArray();
    private int[] I(string name) => _golden.Get(name).ToInt32Array();

    /// <summary>Neighbours of chunk u from a (…, U, k, r) table, -1 padded (rows kept as the engine takes them).</summary>
    private static Func<int, IReadOnlyList<int[]>?> Table(int[] table, int chunks, int k, int r) => u =>
    {
        if (u >= chunks) return null;
        var list = new int[k][];
        for (int j = 0; j < k; j++) list[j] = table.AsSpan((u * k + j) * r, r).ToArray();
        return list;
    };

    private float[] FullForward(RetroDecoder decoder, int[] tokens, Func<int, IReadOnlyList<int[]>?>? neighbours)
    {
        using var state = decoder.CreateState(logitRows: decoder.Config.ChunkSize);
        var logits = new float[tokens.Length * decoder.Config.VocabSize];
        decoder.Forward(state, tokens, neighbours, logits);
        return logits;
    }

    [Theory]
    [InlineData("retro-tiny", Fp32Tolerance)]
    [InlineData("retro-tiny-bf16", Bf16Tolerance)]
    public void Full_forward_with_neighbours_matches_the_reference(string fixture, double tolerance)
    {
        using var decoder = RetroDecoder.Load(Fixtures.Folder(fixture), _backend);
        var shape = _golden.Get("neighbours").Shape;
        var logits = FullForward(decoder, I("tokens"), Table(I("neighbours"), shape[1], shape[2], shape[3]));
        ParityAssert.Close($"{fixture} logits", F("logits"), logits, decoder.Config.VocabSize, tolerance);
    }

    [Theory]
    [InlineData("retro-tiny", Fp32Tolerance)]
    [InlineData("retro-tiny-bf16", Bf16Tolerance)]
    public void Closed_book_matches_the_reference(string fixture, double tolerance)
    {
        using var decoder = RetroDecoder.Load(Fixtures.Folder(fixture), _backend);
        var logits = FullForward(decoder, I("tokens"), null);
        ParityAssert.Close($"{fixture} closed_book_logits", F("closed_book_logits"), logits, decoder.Config.VocabSize, tolerance);
    }

    [Fact]
    public void Encoded_neighbours_of_chunk_0_match_the_reference()
    {
        using var decoder = RetroDecoder.Load(Fixtures.Folder("retro-tiny"), _backend);
        var c = decoder.Config;
        var shape = _golden.Get("neighbours").Shape;
        int k = shape[2], r = shape[3];
        using var state = decoder.CreateState();
        var logits = new float[c.VocabSize];
        decoder.Forward(state, I("tokens").AsSpan(0, c.ChunkSize), Table(I("neighbours"), shape[1], k, r), logits);
        state.CachedChunk.ShouldBe(0);
        var encoded = new float[k * r * c.DModel];
        decoder.DownloadEncoded(state, encoded).ShouldBe(k);
        ParityAssert.Close("encoded_neighbours_0", F("encoded_neighbours_0"), encoded, c.DModel, Fp32Tolerance, "neighbour row", "channel");
    }

    [Theory]
    [InlineData("retro-tiny", Fp32Tolerance)]
    [InlineData("retro-tiny-bf16", Bf16Tolerance)]
    public void Greedy_decoding_equals_the_reference_token_for_token(string fixture, double tolerance)
    {
        using var decoder = RetroDecoder.Load(Fixtures.Folder(fixture), _backend);
        var c = decoder.Config;
        int[] prompt = I("greedy_prompt"), expected = I("greedy_tokens");
        float[] stepLogits = F("greedy_step_logits");
        var shape = _golden.Get("greedy_neighbours").Shape;
        var neighbours = Table(I("greedy_neighbours"), shape[0], shape[1], shape[2]);
        int m = c.ChunkSize, v = c.VocabSize;

        using var session = decoder.CreateSession();
        var sampler = new Sampler(v, SamplingOptions.Greedy);
        session.Prefill(prompt.AsSpan(0, prompt.Length - 1), neighbours);
        int token = prompt[^1];
        var logits = new float[v];
        int boundaries = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            bool completes = session.NextCompletesChunk;
            if (completes) boundaries++;
            session.Step(token, completes ? neighbours(session.NextChunkIndex) : null).CopyTo(logits);
            ParityAssert.Close($"{fixture} greedy_step_logits[{i}] (position {session.Length - 1})",
                stepLogits.AsSpan(i * v, v), logits, v, tolerance, "row", "vocab index");
            token = sampler.Sample(logits, []);
            token.ShouldBe(expected[i], $"{fixture}: greedy token {i} (position {session.Length})");
        }
        boundaries.ShouldBeGreaterThanOrEqualTo(3);
        (session.Length % m).ShouldNotBe(0);
    }

    [Fact]
    public void Loads_from_an_open_model_folder()
    {
        using var folder = ModelFolder.Open(Fixtures.Folder("retro-tiny"), "retro");
        using var decoder = RetroDecoder.Load(folder, _backend);
        var logits = FullForward(decoder, I("tokens"), null);
        ParityAssert.Close("closed_book_logits via ModelFolder", F("closed_book_logits"), logits, decoder.Config.VocabSize, Fp32Tolerance);
    }

    [Fact]
    public void Sink_tensors_that_the_config_does_not_declare_are_named()
    {
        const string from = "\"cca_sink\": true", to = "\"cca_sink\": false";
        string dir = Path.Combine(Path.GetTempPath(), $"retro-sink-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string src = Fixtures.Folder("retro-tiny");
            File.Copy(Path.Combine(src, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
            string config = File.ReadAllText(Path.Combine(src, "config.json"));
            config.ShouldContain(from);
            File.WriteAllText(Path.Combine(dir, "config.json"), config.Replace(from, to));
            var e = Should.Throw<CheckpointFormatException>(() => RetroDecoder.Load(dir, _backend));
            e.Tensor.ShouldBe("layers.2.cca.sink");
            e.Message.ShouldContain("unknown tensor");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_checkpoint_with_a_wrong_tensor_shape_names_the_tensor()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"retro-bad-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string src = Fixtures.Folder("retro-tiny");
            File.Copy(Path.Combine(src, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
            File.WriteAllText(Path.Combine(dir, "config.json"), File.ReadAllText(Path.Combine(src, "config.json")).Replace("\"d_ff\": 128", "\"d_ff\": 96"));
            var e = Should.Throw<CheckpointFormatException>(() => RetroDecoder.Load(dir, _backend));
            e.Tensor.ShouldBe("layers.0.mlp.fc_in.weight");
            e.Message.ShouldContain("expected (96, 64)");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void F16_weights_match_the_reference_within_the_half_precision_tolerance()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"retro-f16-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string src = Fixtures.Folder("retro-tiny");
            File.Copy(Path.Combine(src, "config.json"), Path.Combine(dir, "config.json"));
            using (var f32 = SafetensorsFile.Open(Path.Combine(src, "model.safetensors")))
                F16Writer.Write(Path.Combine(dir, "model.safetensors"), f32);
            using var decoder = RetroDecoder.Load(dir, _backend);
            decoder.Weights.Layers[0].Wq.Type.ShouldBe(DType.F16);
            var shape = _golden.Get("neighbours").Shape;
            var logits = FullForward(decoder, I("tokens"), Table(I("neighbours"), shape[1], shape[2], shape[3]));
            ParityAssert.Close("retro-tiny as F16 logits", F("logits"), logits, decoder.Config.VocabSize, F16Tolerance);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_batch_of_sessions_reproduces_the_reference_greedy_steps()
    {
        using var decoder = RetroDecoder.Load(Fixtures.Folder("retro-tiny"), _backend);
        int v = decoder.Config.VocabSize;
        int[] prompt = I("greedy_prompt"), expected = I("greedy_tokens");
        float[] stepLogits = F("greedy_step_logits");
        var shape = _golden.Get("greedy_neighbours").Shape;
        var neighbours = Table(I("greedy_neighbours"), shape[0], shape[1], shape[2]);
        using var withNeighbours = decoder.CreateSession();
        using var closedBook = decoder.CreateSession();
        withNeighbours.Prefill(prompt.AsSpan(0, prompt.Length - 1), neighbours);
        closedBook.Prefill(prompt.AsSpan(0, 10), null);
        using var batch = new RetroBatch(decoder, 2);
        var logits = new float[2 * v];
        int[] tokens = [prompt[^1], 1];
        var lists = new IReadOnlyList<int[]>?[2];
        for (int i = 0; i < 70; i++) // crosses the chunk boundary at position 63 (the prompt has 60 tokens)
        {
            lists[0] = withNeighbours.NextCompletesChunk ? neighbours(withNeighbours.NextChunkIndex) : null;
            decoder.StepBatch(batch, [withNeighbours, closedBook], tokens, lists, logits);
            ParityAssert.Close($"batched greedy_step_logits[{i}]", stepLogits.AsSpan(i * v, v), logits.AsSpan(0, v), v, Fp32Tolerance);
            tokens[0] = expected[i];
            tokens[1] = (tokens[1] * 7 + 3) % v;
        }
    }
}
