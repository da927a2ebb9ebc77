using GanInference.Trainers.Training;

namespace GanInference.Trainers.Tests.Training;

public sealed class TrainingProgressTests
{
    [Fact]
    public void The_eta_is_the_remaining_steps_at_the_pace_of_the_steps_the_elapsed_time_covers()
    {
        var fresh = new TrainingProgress(2, 4, Step: 100, TotalSteps: 400, 0, TimeSpan.FromSeconds(50), []);
        // Resumed at step 300: this session's 50 s covered 100 steps, not 400.
        var resumed = new TrainingProgress(4, 5, Step: 400, TotalSteps: 500, 0, TimeSpan.FromSeconds(50), [], StepsBefore: 300);
        var justResumed = new TrainingProgress(4, 5, Step: 300, TotalSteps: 500, 0, TimeSpan.Zero, [], StepsBefore: 300);

        Assert.Equal(TimeSpan.FromSeconds(150), fresh.Eta);
        Assert.Equal(TimeSpan.FromSeconds(50), resumed.Eta);
        Assert.Equal(TimeSpan.Zero, justResumed.Eta);
    }
}
