using System.ComponentModel.DataAnnotations;

namespace Retro.Api.Options;

/// <summary>Which engine runs the models.</summary>
public enum EngineBackend
{
    /// <summary>The managed engine (Retro.Engine + Retro.Engine.Cpu): safetensors loaded as they are, CPU only.</summary>
    Managed,

    /// <summary>ONNX Runtime (Retro.Engine.Onnx) on each folder's export (onnx/, src/training/export_onnx.py).</summary>
    Onnx,
}

/// <summary>Section <c>Retro:Engine</c>: the backend and device the models run on.</summary>
public sealed class EngineOptions : IValidatableObject
{
    public const string Section = "Retro:Engine";

    /// <summary><c>Managed</c> (default: the faster on CPU, see tests/Retro.Benchmarks/README.md) or <c>Onnx</c>.</summary>
    public EngineBackend Backend { get; set; } = EngineBackend.Managed;

    /// <summary><c>cpu</c> or <c>cuda</c> (ONNX Runtime's CUDA execution provider; <c>Backend</c> must be <c>Onnx</c>).</summary>
    [Required]
    public string Device { get; set; } = "cpu";

    /// <summary>Worker threads of the engine (0: one per core).</summary>
    [Range(0, 1024)]
    public int Threads { get; set; }

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        bool cpu = string.Equals(Device, "cpu", StringComparison.OrdinalIgnoreCase), cuda = string.Equals(Device, "cuda", StringComparison.OrdinalIgnoreCase);
        if (!cpu && !cuda)
            yield return new ValidationResult($"{Section}:Device is '{Device}'; use cpu or cuda.", [nameof(Device)]);
        else if (cuda && Backend == EngineBackend.Managed)
            yield return new ValidationResult($"{Section}:Device = cuda needs {Section}:Backend = Onnx (the managed engine runs on the CPU).", [nameof(Device)]);
    }
}
