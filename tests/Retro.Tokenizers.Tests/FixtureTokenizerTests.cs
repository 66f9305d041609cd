using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Retro.Tokenizers.Tests;

/// <summary>The tokenizer.json files of tests/fixtures (written by src/training) against the ids in their goldens.</summary>
public sealed class FixtureTokenizerTests
{
    private static string Fixture(string name) => Path.Combine(TestData.RepoRoot, "tests", "fixtures", name);

    [Fact]
    public void EveryFixtureTokenizer_Loads()
    {
        var folders = Directory.GetDirectories(Path.Combine(TestData.RepoRoot, "tests", "fixtures"))
            .Where(d => File.Exists(Path.Combine(d, "tokenizer.json"))).ToList();
        folders.Count.ShouldBeGreaterThanOrEqualTo(3);
        foreach (string folder in folders)
        {
            var t = TokenizerLoader.FromFolder(folder);
            t.VocabularySize.ShouldBeGreaterThan(100, folder);
            TokenizerLoader.FromJson(t.ToJson()).ToJson().ShouldBe(t.ToJson());
        }
    }

    [Fact]
    public void BertTiny_MatchesGoldenInputIds()
    {
        var (meta, tensors) = ReadSafetensors(Path.Combine(Fixture("bert-tiny"), "golden.safetensors"));
        var texts = JsonSerializer.Deserialize<string[]>(meta["texts"])!;
        var t = TokenizerLoader.FromFolder(Fixture("bert-tiny"));
        int length = tensors["input_ids"].Shape[1];
        for (int row = 0; row < texts.Length; row++)
        {
            var input = t.EncodeForModel(texts[row], maxLength: length, padToMaxLength: true);
            input.InputIds.ShouldBe(tensors["input_ids"].Row(row), texts[row]);
            input.AttentionMask.ShouldBe(tensors["attention_mask"].Row(row));
            input.TypeIds.ShouldBe(tensors["token_type_ids"].Row(row));
        }
    }

    [Fact]
    public void CrossTiny_MatchesGoldenPairs()
    {
        var (meta, tensors) = ReadSafetensors(Path.Combine(Fixture("cross-tiny"), "golden.safetensors"));
        var pairs = JsonSerializer.Deserialize<string[][]>(meta["pairs"])!;
        var t = TokenizerLoader.FromFolder(Fixture("cross-tiny"));
        int length = tensors["input_ids"].Shape[1];
        for (int row = 0; row < pairs.Length; row++)
        {
            var input = t.EncodeForModel(pairs[row][0], pairs[row][1], maxLength: length, padToMaxLength: true);
            input.InputIds.ShouldBe(tensors["input_ids"].Row(row));
            input.TypeIds.ShouldBe(tensors["token_type_ids"].Row(row));
            input.AttentionMask.ShouldBe(tensors["attention_mask"].Row(row));
        }
    }

    [Fact]
    public void RetroTiny_MatchesGoldenTokenizerIds()
    {
        var (meta, _) = ReadSafetensors(Path.Combine(Fixture("retro-tiny"), "golden.safetensors"));
        string text = meta["tokenizer_text"];
        int[] expected = JsonSerializer.Deserialize<int[]>(meta["tokenizer_ids"])!;
        var t = TokenizerLoader.FromFolder(Fixture("retro-tiny"));
        t.Encode(text).ShouldBe(expected);
        t.Decode(expected).ShouldBe(text);
    }

    private sealed record Tensor(int[] Shape, int[] Data)
    {
        public int[] Row(int row) => Data.AsSpan(row * Shape[1], Shape[1]).ToArray();
    }

    // Minimal safetensors reader for the I32 tensors and the metadata (the engine has the real one).
    private static (Dictionary<string, string> Meta, Dictionary<string, Tensor> Tensors) ReadSafetensors(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        using var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        var meta = new Dictionary<string, string>();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var p in header.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                foreach (var m in p.Value.EnumerateObject()) meta[m.Name] = m.Value.GetString()!;
                continue;
            }
            if (p.Value.GetProperty("dtype").GetString() != "I32") continue;
            int[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            var data = new int[(offsets[1] - offsets[0]) / 4];
            for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8 + headerLength + offsets[0] + 4 * i));
            tensors[p.Name] = new Tensor(shape, data);
        }
        return (meta, tensors);
    }
}
