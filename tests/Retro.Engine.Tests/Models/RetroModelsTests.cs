using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Checkpoints;
using Retro.Engine.Cpu;
using Retro.Engine.Generation;
using Retro.Engine.Models;
using Retro.Engine.Tests.Support;
using Retro.Tokenizers;

namespace Retro.Engine.Tests.Models;

/// <summary>One loader for the service, the indexer and the comparison runs: ids and tokenizers come from the folders.</summary>
public sealed class RetroModelsTests
{
    private static ModelOptions Fixtures(string? reranker = "cross-tiny") => new()
    {
        Encoder = RepoPaths.Fixture("bert-tiny"),
        Reranker = reranker is null ? null : RepoPaths.Fixture(reranker),
        Decoder = RepoPaths.Fixture("retro-tiny"),
    };

    private static string IdOf(string folder, string type)
    {
        using var model = ModelFolder.Open(folder, type);
        return model.ComputeModelId();
    }

    [Fact]
    public void The_decoder_loads_like_its_bert_siblings_with_id_and_tokenizer_from_its_folder()
    {
        using var backend = new CpuBackend(1);
        string folder = RepoPaths.Fixture("retro-tiny");
        using var decoder = RetroDecoderAdapter.Load(folder, backend, maxNeighbours: 3, batchCapacity: 2);
        decoder.ModelId.ShouldBe(IdOf(folder, "retro"));
        decoder.ModelId.ShouldStartWith("retro-tiny@");
        decoder.MaxNeighbours.ShouldBe(3);
        var tokenizer = TokenizerLoader.FromFolder(folder);
        decoder.Tokenizer.Encode("a question about compilers").ShouldBe(tokenizer.Encode("a question about compilers"));
        decoder.VocabularySize.ShouldBe(decoder.Decoder.Config.VocabSize);
        Should.Throw<CheckpointFormatException>(() => RetroDecoderAdapter.Load(RepoPaths.Fixture("bert-tiny"), backend));
    }

    [Fact]
    public void A_set_loads_every_folder_on_one_engine_and_the_reranker_is_optional()
    {
        using (var models = RetroModels.Load(Fixtures(), new ManagedEngine(new CpuBackend(1))))
        {
            models.Encoder.ModelId.ShouldBe(IdOf(RepoPaths.Fixture("bert-tiny"), "bert"));
            models.Reranker.ShouldNotBeNull().ModelId.ShouldBe(IdOf(RepoPaths.Fixture("cross-tiny"), "bert"));
            models.Decoder.ModelId.ShouldBe(IdOf(RepoPaths.Fixture("retro-tiny"), "retro"));
            models.Decoder.ShouldBeOfType<RetroDecoderAdapter>().MaxNeighbours.ShouldBe(Math.Max(8, models.Decoder.ShouldBeOfType<RetroDecoderAdapter>().Decoder.Config.NumNeighbours));
        }
        using var closed = RetroModels.Load(Fixtures(reranker: null), new ManagedEngine(new CpuBackend(1)), maxNeighbours: 2);
        closed.Reranker.ShouldBeNull();
        closed.Decoder.ShouldBeOfType<RetroDecoderAdapter>().MaxNeighbours.ShouldBe(2);
    }

    [Fact]
    public void A_ranker_folder_loads_as_the_learned_ranker_without_the_engine()
    {
        var engine = new CountingEngine(new ManagedEngine(new CpuBackend(1)));
        using var models = RetroModels.Load(Fixtures(reranker: null) with { Reranker = Path.Combine(RepoPaths.Root, "models", "ranker") }, engine);
        var ranker = models.Reranker.ShouldBeOfType<global::Retro.Core.Ranking.LexicalRanker>();
        ranker.ModelId.ShouldStartWith("ranker@");
        ranker.WeighsFirstStage.ShouldBeTrue();
        engine.Loaded.ShouldBe(2); // the encoder and the decoder only
    }

    [Fact]
    public void A_bad_folder_fails_the_load_and_releases_the_engine()
    {
        var engine = new CountingEngine(new ManagedEngine(new CpuBackend(1)));
        Should.Throw<Exception>(() => RetroModels.Load(Fixtures() with { Decoder = RepoPaths.Fixture("bert-tiny") }, engine));
        engine.Disposed.ShouldBeTrue();
        engine.Loaded.ShouldBe(2); // encoder and reranker, released with the engine
    }

    private sealed class CountingEngine(IModelEngine inner) : IModelEngine
    {
        public int Loaded { get; private set; }
        public bool Disposed { get; private set; }
        public ITextEncoder LoadEncoder(string folder, int maxBatch = 32) { var m = inner.LoadEncoder(folder, maxBatch); Loaded++; return m; }
        public IReranker LoadReranker(string folder) { var m = inner.LoadReranker(folder); Loaded++; return m; }
        public IRetroDecoder LoadDecoder(string folder, int? maxNeighbours = null, int batchCapacity = 1) { var m = inner.LoadDecoder(folder, maxNeighbours, batchCapacity); Loaded++; return m; }
        public void Dispose() { Disposed = true; inner.Dispose(); }
    }
}
