using System.Text.Json;
using Retro.Engine.Bert;
using Retro.Engine.Checkpoints;
using Retro.Engine.Cpu;
using Retro.Engine.Tests.Support;

namespace Retro.Engine.Tests.Bert;

/// <summary>The engine vs the PyTorch reference's golden tensors (tests/fixtures, written by src/training/fixtures.py).</summary>
public sealed class BertParityTests : IDisposable
{
    // docs/model-format.md: relative error max|ours − ref| / max|ref| per tensor, fp32 weights.
    private const double Fp32Tolerance = 1e-4;

    private readonly CpuBackend _backend = new(threads: 2);

    public void Dispose() => _backend.Dispose();

    [Fact]
    public void Bi_encoder_hidden_states_and_embeddings_match_the_reference()
    {
        using var golden = SafetensorsFile.Open(Path.Combine(RepoPaths.Fixture("bert-tiny"), "golden.safetensors"));
        using var encoder = BertEncoder.Load(RepoPaths.Fixture("bert-tiny"), _backend);
        var ids = golden.Get("input_ids");
        int batch = ids.Shape[0], length = ids.Shape[1], h = encoder.Config.HiddenSize;
        using var state = encoder.CreateState(maxBatch: batch + 1, maxLength: length + 3); // larger than needed: views must be exact

        encoder.Forward(state, ids.ToInt32Array(), golden.Get("token_type_ids").ToInt32Array(), golden.Get("attention_mask").ToInt32Array(), batch, length);
        var hidden = new float[batch * length * h];
        _backend.Download(state.Hidden.Slice(0, batch * length), hidden.AsSpan());
        var embeddings = new float[batch * h];
        encoder.Pool(state, batch, length, embeddings);

        Numerics.ShouldBeClose(hidden, golden.Get("hidden_states").ToFloatArray(), Fp32Tolerance, "hidden_states");
        Numerics.ShouldBeClose(embeddings, golden.Get("embeddings").ToFloatArray(), Fp32Tolerance, "embeddings");
    }

    [Fact]
    public void Cross_encoder_scores_match_the_reference_with_bert_prefixed_names()
    {
        using var golden = SafetensorsFile.Open(Path.Combine(RepoPaths.Fixture("cross-tiny"), "golden.safetensors"));
        using var encoder = BertEncoder.Load(RepoPaths.Fixture("cross-tiny"), _backend);
        var ids = golden.Get("input_ids");
        int batch = ids.Shape[0], length = ids.Shape[1];
        using var state = encoder.CreateState(batch, length);

        encoder.Forward(state, ids.ToInt32Array(), golden.Get("token_type_ids").ToInt32Array(), golden.Get("attention_mask").ToInt32Array(), batch, length);
        var scores = new float[batch];
        encoder.Score(state, batch, length, scores);

        Numerics.ShouldBeClose(scores, golden.Get("scores").ToFloatArray(), Fp32Tolerance, "scores");
    }

    [Fact]
    public void Text_encoder_embeds_the_golden_texts_one_at_a_time_and_batched()
    {
        using var golden = SafetensorsFile.Open(Path.Combine(RepoPaths.Fixture("bert-tiny"), "golden.safetensors"));
        string[] texts = JsonSerializer.Deserialize<string[]>(golden.Metadata["texts"])!;
        var expected = golden.Get("embeddings").ToFloatArray();
        using var encoder = BertTextEncoder.Load(RepoPaths.Fixture("bert-tiny"), _backend, maxBatch: 2);
        int d = encoder.Dimension;
        encoder.ModelId.ShouldStartWith("bert-tiny@");

        var batched = new float[texts.Length * d];
        encoder.Encode(texts, batched); // 3 texts, batches of 2: sorted by length, padded per batch
        Numerics.ShouldBeClose(batched, expected, Fp32Tolerance, "embeddings (batched)");

        for (int i = 0; i < texts.Length; i++)
        {
            var one = new float[d];
            encoder.Encode([texts[i]], one);
            Numerics.ShouldBeClose(one, expected.AsSpan(i * d, d), Fp32Tolerance, $"embedding of text {i} alone");
        }
    }

    [Fact]
    public void Reranker_scores_the_golden_pairs()
    {
        using var golden = SafetensorsFile.Open(Path.Combine(RepoPaths.Fixture("cross-tiny"), "golden.safetensors"));
        string[][] pairs = JsonSerializer.Deserialize<string[][]>(golden.Metadata["pairs"])!;
        var expected = golden.Get("scores").ToFloatArray();
        using var reranker = BertReranker.Load(RepoPaths.Fixture("cross-tiny"), _backend);
        for (int i = 0; i < pairs.Length; i++)
        {
            var score = new float[1];
            reranker.Score(pairs[i][0], [pairs[i][1]], score);
            Numerics.ShouldBeClose(score, expected.AsSpan(i, 1), Fp32Tolerance, $"score of pair {i}");
        }
    }

    [Fact]
    public void Text_encoder_is_thread_safe()
    {
        using var encoder = BertTextEncoder.Load(RepoPaths.Fixture("bert-tiny"), _backend, maxBatch: 4);
        string[] texts = ["alpha beta", "the decoder reads neighbours", "x", "retrieval augmented generation with chunks", "café"];
        var reference = new float[texts.Length * encoder.Dimension];
        encoder.Encode(texts, reference);
        var results = new float[8][];
        Parallel.For(0, results.Length, i =>
        {
            results[i] = new float[texts.Length * encoder.Dimension];
            encoder.Encode(texts, results[i]);
        });
        foreach (var r in results) r.ShouldBe(reference); // same inputs, same kernels: bit-identical
    }

    [Fact]
    public void Models_refuse_the_wrong_role()
    {
        using var bi = BertEncoder.Load(RepoPaths.Fixture("bert-tiny"), _backend);
        using var state = bi.CreateState(1, 4);
        Should.Throw<InvalidOperationException>(() => bi.Score(state, 1, 4, new float[1]));
        Should.Throw<CheckpointFormatException>(() => BertEncoder.Load(RepoPaths.Fixture("retro-tiny"), _backend))
            .Message.ShouldContain("model_type");
    }

    [Fact]
    public void Every_token_id_of_the_fixture_tokenizers_has_an_embedding_row()
    {
        foreach (string name in new[] { "bert-tiny", "cross-tiny" })
        {
            using var folder = ModelFolder.Open(RepoPaths.Fixture(name));
            var config = BertConfig.FromFolder(folder);
            folder.Tokenizer.VocabularySize.ShouldBeLessThanOrEqualTo(config.VocabSize, name);
        }
    }

    [Fact]
    public void A_tokenizer_with_ids_beyond_the_embedding_table_is_refused_at_load()
    {
        string dir = Directory.CreateTempSubdirectory("retro-vocab-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(RepoPaths.Fixture("bert-tiny"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer.json")))!;
            var vocab = json["model"]!["vocab"]!.AsObject();
            int next = vocab.Count;
            vocab["zebra"] = next + 1; // past vocab_size (a hole at `next`, as a careless merge of vocabularies leaves)
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
            Should.Throw<CheckpointFormatException>(() => BertTextEncoder.Load(dir, _backend)).Message.ShouldContain("vocab_size");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
