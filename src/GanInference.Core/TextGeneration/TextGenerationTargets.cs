using GanInference.Core.Errors;
using GanInference.Core.Repository;

namespace GanInference.Core.TextGeneration;

/// <summary>
/// Resolves a <c>GenerateFromText</c> name against the <see cref="ModelRepository"/>. It lives here, above the
/// repository, so the repository knows nothing of the request engines that take leases from it.
/// </summary>
public static class TextGenerationTargets
{
    /// <summary>
    /// Finds what <c>GenerateFromText</c> runs under <paramref name="name"/> — a pipeline, or a text-conditional model
    /// that takes no image — and holds every model it uses for one request (see <see cref="ModelRepository.Acquire"/>).
    /// Dispose it when the request ends.
    /// </summary>
    /// <exception cref="ModelNotFoundException">No model or pipeline of that name is served.</exception>
    /// <exception cref="ModelKindMismatchException">
    /// The model is not text-conditional, or takes an image from a previous step (it runs only inside a pipeline).
    /// </exception>
    public static TextGenerationTarget AcquireText(this ModelRepository repository, string name)
    {
        ArgumentNullException.ThrowIfNull(repository);
        while (true)
        {
            if (repository.TryGetPipeline(name, out var pipeline))
            {
                if (ModelRepository.TryLeaseAll(pipeline.Steps) is { } leases)
                {
                    return TextGenerationTarget.ForPipeline(pipeline, leases);
                }

                continue;
            }

            var model = repository.Get(name);
            model.RequireTextConditional();

            if (model.Signature.ImageInput is { } image)
            {
                var users = repository.Pipelines.Where(p => p.Steps.Any(s => s.Name == name)).Select(p => p.Name).ToArray();
                throw new ModelKindMismatchException(
                    $"model '{name}' takes an image from a previous step (input '{image.Name}'), so it runs only as a pipeline step; " +
                    (users.Length > 0 ? $"call GenerateFromText with the pipeline [{string.Join(", ", users)}]" : "no served pipeline uses it"));
            }

            if (model.TryAcquire())
            {
                return TextGenerationTarget.ForModel(model, new ModelLease(model));
            }

            // Retired between the lookup and the lease: a newer snapshot is already published, so look again.
        }
    }
}
