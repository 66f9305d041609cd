using System.Runtime.InteropServices;
using Retro.Engine.Tests.Support;

namespace Retro.Engine.Onnx.Tests;

/// <summary>What loading refuses, and how it says so: missing or stale exports, the other cca_positions, CUDA without CUDA 13.</summary>
public sealed class OnnxLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("retro-onnx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Copy(string fixture)
    {
        string source = RepoPaths.Fixture(fixture), target = Path.Combine(_dir, "model");
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            string to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        return target;
    }

    [Fact]
    public void A_folder_without_an_export_names_the_export_command()
    {
        string folder = Copy("retro-tiny");
        Directory.Delete(Path.Combine(folder, "onnx"), recursive: true);
        var e = Should.Throw<OnnxExportException>(() => OnnxRetroDecoder.Load(folder, new OnnxSessionFactory()));
        e.Message.ShouldContain("no ONNX export");
        e.Message.ShouldContain($"src/training/export_onnx.py {folder}");
    }

    [Fact]
    public void An_export_of_other_weights_is_stale()
    {
        string folder = Copy("bert-tiny");
        var bytes = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));
        bytes[^1] ^= 1;
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), bytes);
        Should.Throw<OnnxExportException>(() => OnnxTextEncoder.Load(folder, new OnnxSessionFactory())).Message.ShouldContain("stale");
    }

    [Fact]
    public void An_export_for_the_other_cca_positions_is_refused()
    {
        string folder = Copy("retro-tiny");
        string config = Path.Combine(folder, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"cca_positions\": \"rope\",", ""));
        Should.Throw<OnnxExportException>(() => OnnxRetroDecoder.Load(folder, new OnnxSessionFactory())).Message.ShouldContain("cca_positions 'rope'");
    }

    [Fact]
    public void A_bi_encoder_export_is_not_a_reranker()
    {
        Should.Throw<ArgumentException>(() => OnnxReranker.Load(RepoPaths.Fixture("bert-tiny"), new OnnxSessionFactory())).Message.ShouldContain("classifier");
    }

    [Fact]
    public void Cuda_without_its_libraries_names_each_missing_one()
    {
        var e = Should.Throw<OnnxDeviceUnavailableException>(() => OnnxSessionFactory.CheckCuda(lib => lib is "libcuda.so.1" or "libcublas.so.13"));
        e.Message.ShouldContain("libcudart.so.13");
        e.Message.ShouldContain("libcublasLt.so.13");
        e.Message.ShouldContain("libcudnn.so.9");
        e.Message.ShouldContain(OnnxSessionFactory.CudaProviderLibrary);
        e.Message.ShouldNotContain("libcublas.so.13,");
        Should.NotThrow(() => OnnxSessionFactory.CheckCuda(_ => true));
    }

    [Fact]
    public void Requesting_cuda_on_this_machine_fails_at_start_up_when_cuda_13_is_absent()
    {
        bool present = NativeLibrary.TryLoad("libcudart.so.13", out var handle);
        if (present) NativeLibrary.Free(handle);
        if (present) return; // a CUDA 13 machine: the failure path does not apply (the CUDA run is measured by the benchmarks)
        var e = Should.Throw<OnnxDeviceUnavailableException>(() => new OnnxSessionFactory(OnnxDevice.Cuda));
        e.Message.ShouldContain("libcudart.so.13");
        e.Message.ShouldContain("Retro:Engine:Device = cpu");
    }
}
