import LeadctlCore

await Leadctl.runMain()
