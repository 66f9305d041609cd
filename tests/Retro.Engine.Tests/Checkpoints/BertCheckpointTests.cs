using Retro.Engine.Bert;
using Retro.Engine.Checkpoints;
using Retro.Engine.Cpu;
using Retro.Engine.Tests.Support;

namespace Retro.Engine.Tests.Checkpoints;

/// <summary>BERT folders built from the bert-tiny fixture with one tensor removed, added, reshaped or renamed.</summary>
public sealed class BertCheckpointTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly CpuBackend _backend = new(threads: 1);

    public void Dispose()
    {
        _backend.Dispose();
        _dir.Dispose();
    }

    // Copies bert-tiny with its tensors passed through edit (return null to drop one).
    private string Folder(Func<CheckpointTensor, (string Name, int[] Shape, byte[] Data)?> edit, string? extraName = null, string? config = null)
    {
        string src = RepoPaths.Fixture("bert-tiny");
        var w = new SafetensorsWriter();
        using (var file = SafetensorsFile.Open(Path.Combine(src, "model.safetensors")))
        {
            foreach (var t in file.Tensors)
            {
                var e = edit(t);
                if (e is { } v) w.Add(v.Name, DTypes.SafetensorsName(t.Type), v.Shape, v.Data);
            }
        }
        if (extraName is not null) w.AddF32(extraName, [2], [1f, 2f]);
        w.Write(_dir.File("model.safetensors"));
        File.WriteAllText(_dir.File("config.json"), config ?? File.ReadAllText(Path.Combine(src, "config.json")));
        File.Copy(Path.Combine(src, "tokenizer.json"), _dir.File("tokenizer.json"), overwrite: true);
        return _dir.Path;
    }

    private static (string, int[], byte[])? Keep(CheckpointTensor t) => (t.Name, t.Shape.ToArray(), t.Bytes.ToArray());

    private CheckpointFormatException LoadFails(string folder)
    {
        var e = Should.Throw<CheckpointFormatException>(() => BertEncoder.Load(folder, _backend).Dispose());
        e.Message.ShouldContain("regenerate it with");
        return e;
    }

    [Fact]
    public void Unchanged_copy_loads_and_bert_prefix_and_position_ids_are_accepted()
    {
        using (var encoder = BertEncoder.Load(Folder(Keep), _backend)) encoder.Config.Layers.ShouldBe(2);
        using var prefixed = BertEncoder.Load(Folder(t => ("bert." + t.Name, t.Shape.ToArray(), t.Bytes.ToArray()), extraName: "embeddings.position_ids"), _backend);
        prefixed.Weights.Layers.Count.ShouldBe(2);
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        LoadFails(Folder(t => t.Name == "encoder.layer.1.output.dense.bias" ? null : Keep(t)))
            .Tensor.ShouldBe("encoder.layer.1.output.dense.bias");
    }

    [Fact]
    public void Unknown_tensor_is_named()
    {
        LoadFails(Folder(Keep, extraName: "encoder.layer.2.output.dense.bias")).Tensor.ShouldBe("encoder.layer.2.output.dense.bias");
        LoadFails(Folder(Keep, extraName: "lm_head.bias")).Tensor.ShouldBe("lm_head.bias");
    }

    [Fact]
    public void Misshapen_tensor_is_named_with_both_shapes()
    {
        var e = LoadFails(Folder(t => t.Name == "encoder.layer.0.intermediate.dense.weight" ? (t.Name, [32, 64], t.Bytes.ToArray()) : Keep(t)));
        e.Tensor.ShouldBe("encoder.layer.0.intermediate.dense.weight");
        e.Problem.ShouldContain("(32, 64)");
        e.Problem.ShouldContain("(64, 32)");
    }

    [Fact]
    public void Bad_config_fails_naming_the_key()
    {
        string config = File.ReadAllText(Path.Combine(RepoPaths.Fixture("bert-tiny"), "config.json"));
        LoadFails(Folder(Keep, config: config.Replace("\"format_version\": 1", "\"format_version\": 2"))).Tensor.ShouldBe("format_version");
        LoadFails(Folder(Keep, config: config.Replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5"))).Tensor.ShouldBe("num_attention_heads");
        LoadFails(Folder(Keep, config: config.Replace("\"gelu\"", "\"relu\""))).Tensor.ShouldBe("hidden_act");
        LoadFails(Folder(Keep, config: "{ not json")).Problem.ShouldContain("not valid JSON");
    }
}
