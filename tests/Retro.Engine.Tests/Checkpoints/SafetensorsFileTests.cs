using Retro.Engine.Checkpoints;
using Retro.Engine.Tests.Support;

namespace Retro.Engine.Tests.Checkpoints;

public sealed class SafetensorsFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static SafetensorsWriter Sample()
    {
        var w = new SafetensorsWriter();
        w.Metadata["format"] = "pt";
        w.AddF32("a.weight", [2, 3], [1, 2, 3, 4, 5, 6]);
        w.Add("b.bf16", "BF16", [2], [0x80, 0x3F, 0x00, 0xC0]);   // 1.0, -2.0
        w.Add("c.f16", "F16", [1], BitConverter.GetBytes((Half)0.5f));
        w.Add("d.i32", "I32", [2], [7, 0, 0, 0, 255, 255, 255, 255]);
        w.Add("e.i64", "I64", [1], BitConverter.GetBytes(42L));
        w.Add("f.empty", "F32", [0, 4], []);
        return w;
    }

    private CheckpointFormatException OpenFails(byte[] bytes)
    {
        string path = _dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Should.Throw<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose());
        e.Path.ShouldBe(path);
        e.Message.ShouldContain(path);
        e.Message.ShouldContain("regenerate it with");
        return e;
    }

    [Fact]
    public void Reads_every_dtype_shape_and_metadata()
    {
        string path = _dir.File("ok.safetensors");
        Sample().Write(path);
        using var file = SafetensorsFile.Open(path);
        file.Metadata["format"].ShouldBe("pt");
        file.Tensors.Count.ShouldBe(6);
        var a = file.Get("a.weight");
        a.Type.ShouldBe(DType.F32);
        a.Shape.ToArray().ShouldBe([2, 3]);
        (a.Rows, a.Columns).ShouldBe((2, 3));
        a.AsSpan<float>().ToArray().ShouldBe([1f, 2, 3, 4, 5, 6]);
        file.Get("b.bf16").ToFloatArray().ShouldBe([1f, -2f]);
        file.Get("c.f16").ToFloatArray().ShouldBe([0.5f]);
        file.Get("d.i32").ToInt32Array().ShouldBe([7, -1]);
        file.Get("e.i64").ToInt32Array().ShouldBe([42]);
        file.Get("f.empty").ElementCount.ShouldBe(0);
        Should.Throw<CheckpointFormatException>(() => file.Get("nope")).Tensor.ShouldBe("nope");
        Should.Throw<InvalidOperationException>(() => file.Get("a.weight").AsSpan<ushort>());
    }

    [Fact]
    public void Safetensors_dtype_names_are_frozen()
    {
        // The names are the file format's (safetensors); changing one breaks every checkpoint.
        DTypes.SafetensorsName(DType.F32).ShouldBe("F32");
        DTypes.SafetensorsName(DType.F16).ShouldBe("F16");
        DTypes.SafetensorsName(DType.BF16).ShouldBe("BF16");
        DTypes.SafetensorsName(DType.I32).ShouldBe("I32");
        DTypes.SafetensorsName(DType.I64).ShouldBe("I64");
        foreach (var type in Enum.GetValues<DType>())
        {
            DTypes.TryParseSafetensorsName(DTypes.SafetensorsName(type), out var parsed).ShouldBeTrue();
            parsed.ShouldBe(type);
        }
        DTypes.TryParseSafetensorsName("f32", out _).ShouldBeFalse();
        DTypes.TryParseSafetensorsName("F64", out _).ShouldBeFalse();
        (DTypes.SizeOf(DType.F32), DTypes.SizeOf(DType.F16), DTypes.SizeOf(DType.BF16), DTypes.SizeOf(DType.I32), DTypes.SizeOf(DType.I64))
            .ShouldBe((4, 2, 2, 4, 8));
    }

    [Fact]
    public void Truncated_data_names_the_tensor_that_runs_past_the_end()
    {
        var bytes = Sample().ToBytes();
        var e = OpenFails(bytes[..^3]);
        e.Tensor.ShouldBe("e.i64");
        e.Message.ShouldContain("truncated");
    }

    [Fact]
    public void Header_longer_than_the_file_fails()
    {
        var bytes = Sample().ToBytes();
        BitConverter.GetBytes((long)bytes.Length).CopyTo(bytes, 0);
        OpenFails(bytes).Problem.ShouldContain("runs past the end");
        OpenFails([1, 2, 3]).Problem.ShouldContain("shorter than the 8-byte header length");
    }

    [Fact]
    public void Header_that_is_not_json_fails()
    {
        OpenFails(Sample().ToBytes("{\"a.weight\": {\"dtype\": \"F32\",")).Problem.ShouldContain("not valid JSON");
        OpenFails(Sample().ToBytes("[1, 2]")).Problem.ShouldContain("not a JSON object");
    }

    [Fact]
    public void Overlapping_offsets_fail_naming_both_tensors()
    {
        string header = """{"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""";
        var w = new SafetensorsWriter().Add("pad", "F32", [3], new byte[12]);
        var e = OpenFails(w.ToBytes(header));
        e.Tensor.ShouldBe("y");
        e.Problem.ShouldContain("overlaps tensor 'x'");
    }

    [Fact]
    public void Unknown_dtype_size_mismatch_and_bad_offsets_fail_naming_the_tensor()
    {
        var w = new SafetensorsWriter().Add("q", "F64", [1], new byte[8]);
        OpenFails(w.ToBytes()).Problem.ShouldContain("unsupported dtype 'F64'");

        w = new SafetensorsWriter().Add("r", "F32", [3], new byte[8]);
        var e = OpenFails(w.ToBytes());
        (e.Tensor, e.Problem).ShouldBe(("r", "holds 8 bytes but F32(3) needs 12"));

        string header = """{"s": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}""";
        OpenFails(new SafetensorsWriter().Add("pad", "F32", [2], new byte[8]).ToBytes(header)).Problem.ShouldContain("not an ordered");

        header = """{"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}""";
        OpenFails(new SafetensorsWriter().Add("pad", "F32", [1], new byte[4]).ToBytes(header)).Problem.ShouldContain("non-negative");
    }

    [Fact]
    public void Fixture_paths_point_at_the_fixture_script()
    {
        CheckpointFormatException.RegenerateHint("/repo/tests/fixtures/bert-tiny/model.safetensors").ShouldContain("src/training/fixtures.py");
        CheckpointFormatException.RegenerateHint("/models/encoder/model.safetensors").ShouldContain("src/training/export.py");
    }
}
