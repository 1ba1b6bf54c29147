"""Code systems, profiles and extension URLs shared by the FHIR reader and writer.

Kept apart so that reader and writer cannot drift: what one writes, the other recognises.
"""

from __future__ import annotations

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
DMD = "https://dmd.nhs.uk"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"

# A canonical patient_id that is not a valid FHIR id ([A-Za-z0-9.-]{1,64}) is written in this identifier
# (and the resource id is a hash of it), so that a round trip returns the same patient_id.
RXWATCH_PATIENT_ID = "urn:rxwatch:patient-id"

# ODS role "GP PRACTICE": marks an Organization as a registering practice even if no patient names it.
ODS_ROLE_SYSTEM = (
    "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole"
)
ODS_ROLE_GP_PRACTICE = "RO76"

# UK Core R4 has no registration-period extension. GP Connect's RegistrationDetails extension (NHS
# England's own definition of the concept, STU3 URL, sub-extension registrationPeriod) is read and written.
REGISTRATION_DETAILS = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-RegistrationDetails-1",
    "https://fhir.nhs.uk/StructureDefinition/Extension-CareConnect-GPC-RegistrationDetails-1",
)

# A SNOMED CT code that is not a product: "Transfer-degraded medication entry" (GP2GP).
TRANSFER_DEGRADED_MEDICATION = "196421000000109"

PROFILE_BASE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
PROFILES = {
    t: PROFILE_BASE + t
    for t in ("Organization", "Patient", "MedicationRequest", "Observation", "Condition")
}

# Resource types the reader maps onto the canonical tables, or reads to resolve references.
MAPPED_TYPES = (
    "Organization",
    "Patient",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
    "Condition",
)
LOOKUP_TYPES = ("Medication",)
