using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Retro.Core;
using Retro.Engine.Generation;
using Retro.Engine.Models;

namespace Retro.Engine.Onnx;

/// <summary>
/// Creates ONNX Runtime sessions for one device and thread count: all graph optimisations, <see cref="Threads"/>
/// intra-op threads (the managed engine's worker count, so the two compare on the same cores), sequential execution.
/// <see cref="OnnxDevice.Cuda"/> appends the CUDA execution provider (CPU for what it does not run); when CUDA 13, cuDNN 9
/// or the provider library is missing it throws <see cref="OnnxDeviceUnavailableException"/> naming them, at start-up.
/// It is also ONNX Runtime as an <see cref="IModelEngine"/>: each model folder's export (onnx/, src/training/export_onnx.py)
/// in sessions from this factory.
/// </summary>
public sealed class OnnxSessionFactory : IModelEngine
{
    /// <summary>What the CUDA execution provider of ONNX Runtime 1.32's Linux GPU build loads (CUDA 13, cuDNN 9) and the driver.</summary>
    public static readonly IReadOnlyList<string> CudaLibraries =
        ["libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9"];

    /// <summary>ONNX Runtime's CUDA provider library: only the GPU package (<c>-p:RetroOnnxGpu=true</c>) ships it.</summary>
    public const string CudaProviderLibrary = "libonnxruntime_providers_cuda.so";

    /// <summary>A factory for <paramref name="device"/> with <paramref name="threads"/> intra-op threads (0: one per core).</summary>
    public OnnxSessionFactory(OnnxDevice device = OnnxDevice.Cpu, int threads = 0, int deviceId = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        ArgumentOutOfRangeException.ThrowIfNegative(deviceId);
        Device = device;
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        DeviceId = deviceId;
        if (device == OnnxDevice.Cuda) CheckCuda(Probe);
    }

    /// <summary>The execution provider.</summary>
    public OnnxDevice Device { get; }

    /// <summary>Intra-op threads of each session.</summary>
    public int Threads { get; }

    /// <summary>CUDA device ordinal.</summary>
    public int DeviceId { get; }

    /// <summary>Loads <paramref name="modelPath"/> into a session on <see cref="Device"/>.</summary>
    public InferenceSession Create(string modelPath)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        // Threads that spin between ops compete with the host's own threads (tokenizer, store, other sessions) on few cores.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        if (Device == OnnxDevice.Cuda)
        {
            try { options.AppendExecutionProvider_CUDA(DeviceId); }
            catch (OnnxRuntimeException e)
            {
                throw new OnnxDeviceUnavailableException($"ONNX Runtime could not start its CUDA execution provider on device {DeviceId}: {e.Message}", e);
            }
        }
        return new InferenceSession(modelPath, options);
    }

    /// <summary>
    /// Throws <see cref="OnnxDeviceUnavailableException"/> when a library the CUDA execution provider needs does not
    /// load (<paramref name="loads"/>: name to loadable); the message names every missing one.
    /// </summary>
    internal static void CheckCuda(Func<string, bool> loads)
    {
        var missing = new List<string>();
        string provider = Path.Combine(AppContext.BaseDirectory, CudaProviderLibrary);
        string nativeProvider = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", CudaProviderLibrary);
        if (!loads(provider) && !loads(nativeProvider) && !loads(CudaProviderLibrary))
            missing.Add($"{CudaProviderLibrary} (ONNX Runtime's GPU build: build with -p:RetroOnnxGpu=true)");
        foreach (var lib in CudaLibraries)
            if (!loads(lib)) missing.Add(lib);
        if (missing.Count > 0)
            throw new OnnxDeviceUnavailableException(
                $"Retro:Engine:Device = cuda, but the CUDA execution provider cannot load: {string.Join(", ", missing)}. " +
                "It needs an NVIDIA driver, CUDA 13 (cudart, cuBLAS, cuBLASLt) and cuDNN 9 on the library path; or set Retro:Engine:Device = cpu.");
    }

    private static bool Probe(string library)
    {
        if (library.Contains('/') && !File.Exists(library)) return false;
        if (!NativeLibrary.TryLoad(library, out var handle)) return false;
        NativeLibrary.Free(handle);
        return true;
    }

    // ---- the model engine

    /// <inheritdoc />
    public ITextEncoder LoadEncoder(string folder, int maxBatch = 32) => OnnxTextEncoder.Load(folder, this, maxBatch);

    /// <inheritdoc />
    public IReranker LoadReranker(string folder) => OnnxReranker.Load(folder, this);

    /// <inheritdoc />
    public IRetroDecoder LoadDecoder(string folder, int? maxNeighbours = null, int batchCapacity = 1) =>
        OnnxRetroDecoder.Load(folder, this, maxNeighbours, batchCapacity);

    /// <summary>Nothing to release: each session belongs to the model that created it.</summary>
    public void Dispose() { }
}
