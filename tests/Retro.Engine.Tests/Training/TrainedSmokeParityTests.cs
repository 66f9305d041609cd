using System.Text.Json;
using Retro.Engine.Bert;
using Retro.Engine.Checkpoints;
using Retro.Engine.Cpu;
using Retro.Engine.Retro;
using Retro.Engine.Tests.Retro;
using Retro.Engine.Tests.Support;

namespace Retro.Engine.Tests.Training;

/// <summary>
/// The engine on models that went through the training pipeline and its export (tests/fixtures/trained-smoke,
/// written by src/training/smoke_fixture.py from a run_pipeline.sh --tiny run): bi-encoder, cross-encoder and
/// RETRO decoder against PyTorch goldens computed in float64, the tokenizer the pipeline wrote included.
/// </summary>
public sealed class TrainedSmokeParityTests : IDisposable
{
    // docs/model-format.md, "Fixtures": fp32 weights, relative error per tensor.
    private const double Fp32Tolerance = 1e-4;

    private readonly CpuBackend _backend = new(threads: 2);

    public void Dispose() => _backend.Dispose();

    private static string Folder(string model) => Path.Combine(RepoPaths.Fixture("trained-smoke"), model);

    private static SafetensorsFile Golden(string model) => SafetensorsFile.Open(Path.Combine(Folder(model), "golden.safetensors"));

    [Fact]
    public void Trained_bi_encoder_hidden_states_and_embeddings_match_the_reference()
    {
        using var golden = Golden("encoder");
        using var encoder = BertEncoder.Load(Folder("encoder"), _backend);
        var ids = golden.Get("input_ids");
        int batch = ids.Shape[0], length = ids.Shape[1], h = encoder.Config.HiddenSize;
        using var state = encoder.CreateState(batch, length);

        encoder.Forward(state, ids.ToInt32Array(), golden.Get("token_type_ids").ToInt32Array(), golden.Get("attention_mask").ToInt32Array(), batch, length);
        var hidden = new float[batch * length * h];
        _backend.Download(state.Hidden.Slice(0, batch * length), hidden.AsSpan());
        var embeddings = new float[batch * h];
        encoder.Pool(state, batch, length, embeddings);

        Numerics.ShouldBeClose(hidden, golden.Get("hidden_states").ToFloatArray(), Fp32Tolerance, "hidden_states");
        Numerics.ShouldBeClose(embeddings, golden.Get("embeddings").ToFloatArray(), Fp32Tolerance, "embeddings");
    }

    [Fact]
    public void Pipeline_tokenizer_gives_the_golden_encoder_inputs()
    {
        using var golden = Golden("encoder");
        string[] texts = JsonSerializer.Deserialize<string[]>(golden.Metadata["texts"])!;
        int[] ids = golden.Get("input_ids").ToInt32Array(), mask = golden.Get("attention_mask").ToInt32Array();
        int length = golden.Get("input_ids").Shape[1];
        using var folder = ModelFolder.Open(Folder("encoder"), "bert");
        for (int i = 0; i < texts.Length; i++)
        {
            int real = mask.AsSpan(i * length, length).ToArray().Sum();
            folder.Tokenizer.EncodeForModel(texts[i]).InputIds.ShouldBe(ids.AsSpan(i * length, real).ToArray(), $"ids of text {i}");
        }
    }

    [Fact]
    public void Trained_text_encoder_embeds_the_golden_texts()
    {
        using var golden = Golden("encoder");
        string[] texts = JsonSerializer.Deserialize<string[]>(golden.Metadata["texts"])!;
        using var encoder = BertTextEncoder.Load(Folder("encoder"), _backend, maxBatch: 2);
        var embeddings = new float[texts.Length * encoder.Dimension];
        encoder.Encode(texts, embeddings);
        Numerics.ShouldBeClose(embeddings, golden.Get("embeddings").ToFloatArray(), Fp32Tolerance, "embeddings from text");
    }

    [Fact]
    public void Trained_cross_encoder_scores_match_the_reference_from_ids_and_from_text()
    {
        using var golden = Golden("reranker");
        var expected = golden.Get("scores").ToFloatArray();
        using (var encoder = BertEncoder.Load(Folder("reranker"), _backend))
        {
            var ids = golden.Get("input_ids");
            int batch = ids.Shape[0], length = ids.Shape[1];
            using var state = encoder.CreateState(batch, length);
            encoder.Forward(state, ids.ToInt32Array(), golden.Get("token_type_ids").ToInt32Array(), golden.Get("attention_mask").ToInt32Array(), batch, length);
            var scores = new float[batch];
            encoder.Score(state, batch, length, scores);
            Numerics.ShouldBeClose(scores, expected, Fp32Tolerance, "scores");
        }

        string[][] pairs = JsonSerializer.Deserialize<string[][]>(golden.Metadata["pairs"])!;
        using var reranker = BertReranker.Load(Folder("reranker"), _backend);
        for (int i = 0; i < pairs.Length; i++)
        {
            var score = new float[1];
            reranker.Score(pairs[i][0], [pairs[i][1]], score);
            Numerics.ShouldBeClose(score, expected.AsSpan(i, 1), Fp32Tolerance, $"score of pair {i} from text");
        }
    }

    [Fact]
    public void Trained_decoder_logits_with_retrieved_neighbours_and_closed_book_match_the_reference()
    {
        using var golden = Golden("retro");
        using var decoder = RetroDecoder.Load(Folder("retro"), _backend);
        var c = decoder.Config;
        int[] tokens = golden.Get("tokens").ToInt32Array();
        var shape = golden.Get("neighbours").Shape; // (1, U, k, r)
        int[] table = golden.Get("neighbours").ToInt32Array();
        int chunks = shape[1], k = shape[2], r = shape[3];
        Func<int, IReadOnlyList<int[]>?> neighbours = u =>
        {
            if (u >= chunks) return null;
            var list = new int[k][];
            for (int j = 0; j < k; j++) list[j] = table.AsSpan((u * k + j) * r, r).ToArray();
            return list;
        };

        using var state = decoder.CreateState(logitRows: c.ChunkSize);
        var logits = new float[tokens.Length * c.VocabSize];
        decoder.Forward(state, tokens, neighbours, logits);
        ParityAssert.Close("trained logits", golden.Get("logits").ToFloatArray(), logits, c.VocabSize, Fp32Tolerance);
        var encoded = new float[k * r * c.DModel];
        decoder.DownloadEncoded(state, encoded).ShouldBe(k);
        ParityAssert.Close("trained encoded_neighbours_0", golden.Get("encoded_neighbours_0").ToFloatArray(), encoded, c.DModel, Fp32Tolerance, "neighbour row", "channel");

        using var closedState = decoder.CreateState(logitRows: c.ChunkSize);
        var closed = new float[tokens.Length * c.VocabSize];
        decoder.Forward(closedState, tokens, null, closed);
        ParityAssert.Close("trained closed_book_logits", golden.Get("closed_book_logits").ToFloatArray(), closed, c.VocabSize, Fp32Tolerance);
    }

    [Fact]
    public void Pipeline_decoder_tokenizer_round_trips_the_golden_text()
    {
        using var golden = Golden("retro");
        string text = golden.Metadata["tokenizer_text"];
        int[] expected = JsonSerializer.Deserialize<int[]>(golden.Metadata["tokenizer_ids"])!;
        using var folder = ModelFolder.Open(Folder("retro"), "retro");
        folder.Tokenizer.Encode(text).ShouldBe(expected);
        folder.Tokenizer.Decode(expected).ShouldBe(text);
    }
}
