using Retro.Engine.Retro;

namespace Retro.Engine.Tests.Retro;

public class RetroConfigTests
{
    private const string Json = """
        {"vocab_size": 512, "d_model": 64, "n_layers": 4, "n_heads": 4, "d_ff": 128, "max_seq_len": 1024,
         "chunk_size": 64, "neighbour_len": 128, "num_neighbours": 2, "cca_layers": [2, 3], "encoder_layers": 2,
         "encoder_n_heads": 4, "encoder_d_ff": 128, "rope_theta": 10000.0, "layer_norm_eps": 1e-05,
         "tie_embeddings": true, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
         "model_type": "retro", "format_version": 1}
        """;

    [Fact]
    public void Parses_every_field()
    {
        var c = RetroConfig.Parse(Json);
        c.VocabSize.ShouldBe(512);
        c.DModel.ShouldBe(64);
        c.NLayers.ShouldBe(4);
        c.NHeads.ShouldBe(4);
        c.HeadDim.ShouldBe(16);
        c.DFf.ShouldBe(128);
        c.MaxSeqLen.ShouldBe(1024);
        c.ChunkSize.ShouldBe(64);
        c.NeighbourLen.ShouldBe(128);
        c.NumNeighbours.ShouldBe(2);
        c.CcaLayers.ShouldBe([2, 3]);
        c.FirstCcaLayer.ShouldBe(2);
        c.CcaIndex(3).ShouldBe(1);
        c.IsCcaLayer(1).ShouldBeFalse();
        c.EncoderLayers.ShouldBe(2);
        c.EncoderNHeads.ShouldBe(4);
        c.EncoderDFf.ShouldBe(128);
        c.RopeTheta.ShouldBe(10000f);
        c.LayerNormEps.ShouldBe(1e-5f);
        c.TieEmbeddings.ShouldBeTrue();
        c.BosTokenId.ShouldBe(1);
        c.EosTokenId.ShouldBe(2);
        c.PadTokenId.ShouldBe(0);
        c.QuestionLayout.ShouldBe(QuestionLayout.Chunk); // files without the keys: as every chunk, all neighbours
        c.QuestionNeighbours.ShouldBe(0);
        c.CcaSink.ShouldBeFalse(); // files without the key have no sinks
    }

    [Fact]
    public void Parses_the_question_layout()
    {
        var c = RetroConfig.Parse(Json.Replace("\"format_version\": 1", "\"format_version\": 1, \"question_layout\": \"answer\", \"question_neighbours\": 1"));
        c.QuestionLayout.ShouldBe(QuestionLayout.Answer);
        c.QuestionNeighbours.ShouldBe(1);
    }

    [Fact]
    public void Parses_cca_sink() =>
        RetroConfig.Parse(Json.Replace("\"format_version\": 1", "\"format_version\": 1, \"cca_sink\": true")).CcaSink.ShouldBeTrue();

    [Theory]
    [InlineData("\"model_type\": \"retro\"", "\"model_type\": \"bert\"", "model_type")]
    [InlineData("\"cca_layers\": [2, 3]", "\"cca_layers\": [3, 2]", "ascending")]
    [InlineData("\"cca_layers\": [2, 3]", "\"cca_layers\": [2, 4]", "cca_layers[1]")]
    [InlineData("\"n_heads\": 4", "\"n_heads\": 5", "multiple of n_heads")]
    [InlineData("\"d_model\": 64", "\"d_model\": \"64\"", "'d_model' must be an integer")]
    [InlineData("\"vocab_size\": 512, ", "", "missing 'vocab_size'")]
    [InlineData("\"format_version\": 1", "\"format_version\": 2", "format_version 2")]
    [InlineData("\"format_version\": 1", "\"format_version\": 1, \"question_layout\": \"both\"", "'question_layout' is 'both'")]
    [InlineData("\"format_version\": 1", "\"format_version\": 1, \"question_neighbours\": -1", "question_neighbours must not be negative")]
    public void Rejects_bad_configs_naming_the_field(string from, string to, string message)
    {
        var e = Should.Throw<InvalidDataException>(() => RetroConfig.Parse(Json.Replace(from, to)));
        e.Message.ShouldContain(message);
    }
}
